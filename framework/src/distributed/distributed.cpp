// Data-parallel training over MPI: see distributed.hpp and docs/distributed.md.
#include "gradflow/distributed.hpp"

#include <fmt/format.h>
#include <mpi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace gradflow {

namespace {

using Clock = std::chrono::steady_clock;

double env_double(const char* name, double fallback) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(value > 0.0))
    throw std::runtime_error(fmt::format("{}='{}': expected a positive number", name, text));
  return value;
}

// Polls `requests` until all complete. Every MPI call is made under `mutex` (MPI calls are
// serialised: see docs/distributed.md). Past the runtime's timeout the job is aborted.
void wait_bounded(const MpiRuntime& runtime, std::mutex& mutex, std::span<MPI_Request> requests,
                  const std::string& what) {
  const auto start = Clock::now();
  for (int spins = 0;; ++spins) {
    int done = 0;
    {
      std::lock_guard lock(mutex);
      MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done, MPI_STATUSES_IGNORE);
    }
    if (done) return;
    const double waited = std::chrono::duration<double>(Clock::now() - start).count();
    if (waited > runtime.timeout_s())
      runtime.abort(fmt::format("{} did not complete within {:g} s (GRADFLOW_MPI_TIMEOUT): another rank died, "
                                "hangs or is unreachable; aborting every rank",
                                what, runtime.timeout_s()),
                    3);
    if (spins < 2000) std::this_thread::yield();
    else std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

std::mutex& global_mpi_mutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace

MpiRuntime::MpiRuntime() {
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  // Every MPI call is serialised by a mutex anyway (TBB workers start reductions), so
  // MPI_THREAD_SERIALIZED is enough; MULTIPLE is asked for because Debian's Open MPI has it.
  if (provided < MPI_THREAD_SERIALIZED)
    abort(fmt::format("the MPI library provides thread level {}, gradflow needs MPI_THREAD_SERIALIZED", provided));
  try {
    timeout_s_ = env_double("GRADFLOW_MPI_TIMEOUT", 60.0);
  } catch (const std::exception& e) {
    abort(e.what(), 2);
  }
}

MpiRuntime::~MpiRuntime() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void MpiRuntime::abort(const std::string& message, int status) const {
  std::fprintf(stderr, "gradflow: rank %d of %d: %s\n", rank_, size_, message.c_str());
  std::fflush(stderr);
  std::fflush(stdout);
  MPI_Abort(MPI_COMM_WORLD, status);
  std::_Exit(status);  // not reached
}

void MpiRuntime::check_same_everywhere(const std::string& what, uint64_t fingerprint) const {
  std::vector<uint64_t> all(static_cast<size_t>(size_));
  MPI_Request request = MPI_REQUEST_NULL;
  {
    std::lock_guard lock(global_mpi_mutex());
    MPI_Iallgather(&fingerprint, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD, &request);
  }
  wait_bounded(*this, global_mpi_mutex(), std::span(&request, 1), "comparing the " + what + " across ranks");
  std::vector<int> differ;
  for (int r = 1; r < size_; ++r)
    if (all[static_cast<size_t>(r)] != all[0]) differ.push_back(r);
  if (differ.empty()) return;
  std::string list;
  for (int r : differ) list += fmt::format("{}rank {} has {:016x}", list.empty() ? "" : ", ", r, all[static_cast<size_t>(r)]);
  throw RanksDisagree(fmt::format("the ranks disagree on the {}: rank 0 has {:016x}, {}", what, all[0], list));
}

// ---------------------------------------------------------------------------------------------

struct MpiGradientSync::State {
  struct Bucket {
    std::vector<int> nodes;  // in the order they were added (reverse topological)
    std::vector<float> buffer;
    int pending = 0;
  };

  const MpiRuntime& runtime;
  Model& model;
  std::vector<Bucket> buckets;
  // One per bucket, contiguous: every test and wait (progress thread, finish_step) works on
  // these very handles under the mutex, so a completed (freed) request is never tested again.
  std::vector<MPI_Request> requests;
  std::vector<int> bucket_of;       // per compute node; -1: not reduced
  std::vector<int64_t> offset_of;   // per compute node: its first float in its bucket
  std::vector<Tensor*> buffers;     // every operator buffer, broadcast from rank 0 each step
  bool mean_reduced = true;
  std::mutex& mutex = global_mpi_mutex();  // guards every MPI call and the fields below
  float weight = 1.0f;
  size_t next_launch = 0;
  int64_t step = 0;
  double waited_s = 0.0;

  // Progress thread: Open MPI advances a non-blocking collective only inside MPI calls, so
  // while buckets are in flight and backward is still computing, this thread calls MPI_Testall
  // every GRADFLOW_MPI_PROGRESS_US microseconds (default 100; docs/distributed.md).
  std::thread progress;
  std::condition_variable wake;
  bool in_flight = false;
  bool stopping = false;
  std::chrono::microseconds progress_every{100};

  State(const MpiRuntime& r, Model& m) : runtime(r), model(m) {}

  void launch_ready_locked() {
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      Bucket& b = buckets[next_launch];
      MPI_Iallreduce(MPI_IN_PLACE, b.buffer.data(), static_cast<int>(b.buffer.size()), MPI_FLOAT, MPI_SUM,
                     MPI_COMM_WORLD, &requests[next_launch]);
      ++next_launch;
      if (!in_flight) {
        in_flight = true;
        wake.notify_one();
      }
    }
  }

  void test_launched_locked() {
    int done = 0;
    MPI_Testall(static_cast<int>(next_launch), requests.data(), &done, MPI_STATUSES_IGNORE);
  }

  void pack(int node_index) {
    float* out = buckets[static_cast<size_t>(bucket_of[static_cast<size_t>(node_index)])].buffer.data() +
                 offset_of[static_cast<size_t>(node_index)];
    for (const Parameter& p : model.node_parameters(node_index)) {
      const float* in = p.grad.data();
      const int64_t n = p.grad.size();
      if (weight == 1.0f) std::memcpy(out, in, static_cast<size_t>(n) * sizeof(float));
      else
        for (int64_t i = 0; i < n; ++i) out[i] = in[i] * weight;
      out += n;
    }
  }

  void on_ready(int index) {
    const int b = bucket_of[static_cast<size_t>(index)];
    if (b < 0) return;
    pack(index);  // disjoint part of the bucket: no lock
    std::lock_guard lock(mutex);
    --buckets[static_cast<size_t>(b)].pending;
    launch_ready_locked();
    test_launched_locked();
  }

  void progress_loop() {
    std::unique_lock lock(mutex);
    while (!stopping) {
      if (!in_flight) {
        wake.wait(lock, [this] { return in_flight || stopping; });
        continue;
      }
      test_launched_locked();
      lock.unlock();
      std::this_thread::sleep_for(progress_every);
      lock.lock();
    }
  }
};

MpiGradientSync::MpiGradientSync(const MpiRuntime& runtime, Model& model, int64_t bucket_bytes)
    : state_(std::make_unique<State>(runtime, model)) {
  State& s = *state_;
  for (const Model::BufferRef& b : model.buffers()) s.buffers.push_back(&b.buffer->value);
  if (bucket_bytes <= 0) bucket_bytes = static_cast<int64_t>(env_double("GRADFLOW_MPI_BUCKET_MB", 25.0) * 1024 * 1024);
  s.progress_every = std::chrono::microseconds(static_cast<int64_t>(env_double("GRADFLOW_MPI_PROGRESS_US", 100.0)));

  // Mean-reduced losses weigh each rank's gradient by its share of the batch; sum-reduced
  // ones add them. A graph mixing both cannot be split by weighting the summed gradient.
  const std::vector<ComputeNode>& nodes = model.nodes();
  std::set<Reduction> reductions;
  for (const ComputeNode& node : nodes)
    if (const auto* loss = dynamic_cast<const Loss*>(node.impl.get()); loss && node.runs_backward)
      reductions.insert(loss->reduction());
  if (reductions.size() > 1 && runtime.size() > 1)
    throw std::runtime_error(
        "data-parallel training needs every optimised loss to use the same reduction (this graph mixes "
        "'mean' and 'sum')");
  s.mean_reduced = reductions.empty() || *reductions.begin() != Reduction::Sum;

  // Buckets in backward order (reverse topological), as PyTorch DDP: the first capped at 1 MiB
  // so that a reduction starts early, the others at `bucket_bytes`. A node is never split.
  s.bucket_of.assign(nodes.size(), -1);
  s.offset_of.assign(nodes.size(), 0);
  const std::vector<int> order = model.topological_order();
  int64_t filled = 0;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const ComputeNode& node = nodes[static_cast<size_t>(*it)];
    if (!node.runs_backward || node.impl->parameters().empty()) continue;
    if (s.buckets.empty() || filled >= (s.buckets.size() == 1 ? std::min<int64_t>(bucket_bytes, 1 << 20) : bucket_bytes)) {
      s.buckets.emplace_back();
      filled = 0;
    }
    State::Bucket& bucket = s.buckets.back();
    s.bucket_of[static_cast<size_t>(*it)] = static_cast<int>(s.buckets.size() - 1);
    s.offset_of[static_cast<size_t>(*it)] = static_cast<int64_t>(bucket.buffer.size());
    int64_t floats = 0;
    for (const Parameter& p : node.impl->parameters()) floats += p.grad.size();
    bucket.buffer.resize(bucket.buffer.size() + static_cast<size_t>(floats));
    bucket.nodes.push_back(*it);
    filled += floats * static_cast<int64_t>(sizeof(float));
  }
  s.requests.assign(s.buckets.size(), MPI_REQUEST_NULL);
  for (State::Bucket& b : s.buckets)
    if (b.buffer.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
      throw std::runtime_error("a gradient bucket exceeds MPI's int count; lower GRADFLOW_MPI_BUCKET_MB");

  model.set_on_gradients_ready([this](int node) { state_->on_ready(node); });
  s.progress = std::thread([this] { state_->progress_loop(); });
}

MpiGradientSync::~MpiGradientSync() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
  }
  state_->wake.notify_one();
  state_->progress.join();
  state_->model.set_on_gradients_ready({});
}

int MpiGradientSync::rank() const { return state_->runtime.rank(); }
int MpiGradientSync::ranks() const { return state_->runtime.size(); }
int64_t MpiGradientSync::bucket_count() const { return static_cast<int64_t>(state_->buckets.size()); }
int64_t MpiGradientSync::floats_per_step() const {
  int64_t n = 0;
  for (const auto& b : state_->buckets) n += static_cast<int64_t>(b.buffer.size());
  return n;
}

double MpiGradientSync::wait_seconds() const { return state_->waited_s; }
int64_t MpiGradientSync::steps_synced() const { return state_->step; }

double MpiGradientSync::loss_weight(int64_t local, int64_t global) const {
  return state_->mean_reduced ? static_cast<double>(local) / static_cast<double>(global) : 1.0;
}

double MpiGradientSync::begin_step(int64_t local, int64_t global) {
  State& s = *state_;
  const double weight = loss_weight(local, global);
  std::lock_guard lock(s.mutex);
  // torch DDP's broadcast_buffers: every rank starts the step from rank 0's buffers (batch
  // norm's running statistics), so the ranks' models stay identical.
  for (Tensor* buffer : s.buffers)
    MPI_Bcast(buffer->data(), static_cast<int>(buffer->size()), MPI_FLOAT, 0, MPI_COMM_WORLD);
  s.weight = static_cast<float>(weight);
  s.next_launch = 0;
  for (State::Bucket& b : s.buckets) b.pending = static_cast<int>(b.nodes.size());
  if (local == 0) {  // no backward on this rank: contribute zeros, in the same bucket order
    for (State::Bucket& b : s.buckets) {
      std::fill(b.buffer.begin(), b.buffer.end(), 0.0f);
      b.pending = 0;
    }
    s.launch_ready_locked();
  }
  return weight;
}

void MpiGradientSync::finish_step() {
  State& s = *state_;
  {
    std::lock_guard lock(s.mutex);
    if (s.next_launch != s.buckets.size())
      s.runtime.abort(fmt::format("internal error: {} of {} gradient buckets were started after backward",
                                  s.next_launch, s.buckets.size()));
  }
  const auto wait_start = Clock::now();
  wait_bounded(s.runtime, s.mutex, s.requests, fmt::format("the gradient allreduce of step {}", s.step + 1));
  s.waited_s += std::chrono::duration<double>(Clock::now() - wait_start).count();
  {
    std::lock_guard lock(s.mutex);
    s.in_flight = false;
  }
  ++s.step;
  // The summed gradients back into the parameters, for the optimizer step.
  for (State::Bucket& b : s.buckets) {
    const float* in = b.buffer.data();
    for (int n : b.nodes)
      for (Parameter& p : s.model.node_parameters(n)) {
        std::memcpy(p.grad.data(), in, static_cast<size_t>(p.grad.size()) * sizeof(float));
        in += p.grad.size();
      }
  }
}

void MpiGradientSync::check_same_everywhere(const std::string& what, uint64_t fingerprint) {
  state_->runtime.check_same_everywhere(what, fingerprint);
}

void MpiGradientSync::sum(std::span<double> values) {
  MPI_Request request = MPI_REQUEST_NULL;
  {
    std::lock_guard lock(state_->mutex);
    MPI_Iallreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM,
                   MPI_COMM_WORLD, &request);
  }
  wait_bounded(state_->runtime, state_->mutex, std::span(&request, 1), "the allreduce of the epoch's loss sums");
}

}  // namespace gradflow
