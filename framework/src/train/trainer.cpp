#include "gradflow/trainer.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <utility>

#include "gradflow/gradient_clipping.hpp"
#include "numerics_guard.hpp"

namespace gradflow {

void RunningEvaluation::add(double batch_loss, std::optional<int64_t> correct, int64_t batch) {
  loss_sum_ += batch_loss * static_cast<double>(batch);
  samples_ += batch;
  if (correct) correct_ += *correct;
  else has_accuracy_ = false;
}

Evaluation RunningEvaluation::result() const {
  Evaluation e;
  e.samples = samples_;
  e.loss = mean_loss();
  if (has_accuracy_ && samples_ > 0) e.accuracy = static_cast<double>(correct_) / static_cast<double>(samples_);
  return e;
}

Trainer::Trainer(Model& model, TrainOptions options) : model_(model), options_(std::move(options)) {}

int64_t batch_size_for(int64_t requested, int64_t samples) {
  return requested > 0 ? std::min(requested, samples) : samples;
}

int64_t Trainer::batch_size_for(const Dataset& data) const {
  return gradflow::batch_size_for(options_.batch_size, data.size);
}

// Fisher-Yates from a stream derived from (seed, epoch): no RNG state to carry across epochs.
std::vector<int64_t> Trainer::epoch_order(int64_t size, int64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(size));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (!options_.shuffle) return order;
  Rng::derive(options_.seed, "shuffle", static_cast<uint64_t>(epoch)).shuffle(order);
  return order;
}

namespace {

// This rank's part of the global sums behind an Evaluation (EpochProgress's): the batch
// losses weighted as the single process weights them (loss of the global batch x its size),
// correct predictions and samples. Summed over ranks once per epoch, not per step.
void add_batch(EpochProgress& sums, double weighted_loss, std::optional<int64_t> correct_count, int64_t local,
               int64_t global) {
  sums.loss += weighted_loss * static_cast<double>(global);
  sums.samples += static_cast<double>(local);
  if (correct_count) sums.correct += static_cast<double>(*correct_count);
  else sums.no_accuracy = 1.0;
}

EpochProgress summed(const EpochProgress& sums, GradientSync& sync) {
  std::array<double, 4> all{sums.loss, sums.correct, sums.samples, sums.no_accuracy};
  sync.sum(all);
  return {sums.batches, all[0], all[1], all[2], all[3]};
}

Evaluation reduce(const EpochProgress& sums, GradientSync& sync) {
  const EpochProgress all = summed(sums, sync);
  Evaluation e;
  e.samples = static_cast<int64_t>(all.samples);
  if (e.samples > 0) {
    e.loss = all.loss / all.samples;
    if (all.no_accuracy == 0.0) e.accuracy = all.correct / all.samples;
  }
  return e;
}

// Rank r's contiguous slice of a global batch of `size`: [size*r/N, size*(r+1)/N).
std::pair<int64_t, int64_t> shard_of(int64_t size, int rank, int ranks) {
  return {size * rank / ranks, size * (rank + 1) / ranks};
}

}  // namespace

// One process is the one-rank case of data-parallel training: its shard is the whole batch,
// its loss weight 1, and there is nothing to sum. A single code path serves both.
class SingleProcess final : public GradientSync {
 public:
  int rank() const override { return 0; }
  int ranks() const override { return 1; }
  double begin_step(int64_t, int64_t) override { return 1.0; }
  double loss_weight(int64_t, int64_t) const override { return 1.0; }
  void finish_step() override {}
  void sum(std::span<double>) override {}
  void check_same_everywhere(const std::string&, uint64_t) override {}
};

GradientSync& Trainer::sync() {
  static SingleProcess single_process;  // stateless
  return options_.sync ? *options_.sync : single_process;
}

// Every rank holds the same reduced gradients here, so every rank clips them alike.
void Trainer::clip_gradients() {
  if (!options_.clip_grad_value && !options_.clip_grad_norm) return;
  for (const OptimizerNode& opt : model_.optimizers()) {
    if (options_.clip_grad_value) clip_grad_value(opt.gradients, *options_.clip_grad_value);
    if (options_.clip_grad_norm) clip_grad_norm(opt.gradients, *options_.clip_grad_norm);
  }
}

Evaluation Trainer::train_epoch(const Dataset& data, int64_t epoch) {
  if (data.empty()) throw std::invalid_argument("the training data is empty");
  const std::vector<int64_t> order = epoch_order(data.size, epoch);
  GradientSync& sync = this->sync();
  const int64_t batch = batch_size_for(data);
  const int64_t batches = (data.size + batch - 1) / batch;
  RunningEvaluation running;  // this rank's, for progress only
  std::span<const int64_t> all(order);
  for (int64_t b = progress_.batches; b < batches; ++b) {
    // The last batch keeps the remainder, as PyTorch's DataLoader does by default.
    const int64_t begin = b * batch;
    const int64_t global = std::min(batch, data.size - begin);
    const auto [lo, hi] = shard_of(global, sync.rank(), sync.ranks());
    const double weight = sync.begin_step(hi - lo, global);
    if (hi > lo) {
      const auto indices = all.subspan(static_cast<size_t>(begin + lo), static_cast<size_t>(hi - lo));
      model_.load_batch(data, indices);
      if (model_.check_numerics()) require_finite_batch(model_, data, indices);
      model_.set_training(true, steps_, lo);
      model_.forward();
      const double loss = model_.objective();
      if (options_.stop_on_nonfinite && !std::isfinite(loss))
        throw nonfinite_loss_error(model_, {epoch + 1, b + 1, batches, steps_});
      const auto correct = model_.correct_count();
      add_batch(progress_, loss * weight, correct, hi - lo, global);
      running.add(loss, correct, hi - lo);
      last_batch_loss_ = loss;
      model_.backward();
    }
    last_batch_samples_ = global;
    sync.finish_step();
    clip_gradients();
    model_.optimizer_step();
    ++steps_;
    progress_.batches = b + 1;
    if (options_.on_batch) options_.on_batch(b + 1, batches, running.mean_loss());
    if (options_.after_step) options_.after_step(steps_);
    if (b + 1 < batches && options_.stop_after_step && options_.stop_after_step()) return {};
  }
  return reduce(std::exchange(progress_, {}), sync);
}

EpochProgress Trainer::global_epoch_progress() { return summed(progress_, sync()); }

// Evaluation runs in larger batches than training (fewer passes), up to 1024 samples, but never
// more than fit about 64 MiB of activations: a CNN's per-sample values are ~100x an MLP's.
int64_t evaluation_batch(int64_t training_batch, int64_t samples, int64_t bytes_per_sample) {
  constexpr int64_t kActivationBudget = int64_t{64} << 20;
  const int64_t fits = std::max<int64_t>(1, kActivationBudget / std::max<int64_t>(1, bytes_per_sample));
  return std::max<int64_t>(training_batch, std::min({samples, int64_t{1024}, fits}));
}

// Forward passes only, in order; under data parallelism each rank evaluates its shards.
Evaluation Trainer::evaluate(const Dataset& data, const BatchObserver& after_forward) {
  if (data.empty()) return RunningEvaluation().result();
  const int64_t batch = evaluation_batch(batch_size_for(data), data.size, model_.value_bytes_per_sample());
  GradientSync& sync = this->sync();
  EpochProgress sums;
  std::vector<int64_t> order(static_cast<size_t>(data.size));
  std::iota(order.begin(), order.end(), int64_t{0});
  std::span<const int64_t> all(order);
  for (int64_t begin = 0; begin < data.size; begin += batch) {
    const int64_t global = std::min(batch, data.size - begin);
    const auto [lo, hi] = shard_of(global, sync.rank(), sync.ranks());
    if (hi == lo) continue;
    const double weight = sync.loss_weight(hi - lo, global);
    model_.load_batch(data, all.subspan(static_cast<size_t>(begin + lo), static_cast<size_t>(hi - lo)));
    model_.set_training(false);
    model_.forward();
    if (after_forward) after_forward(model_);
    add_batch(sums, model_.objective() * weight, model_.correct_count(), hi - lo, global);
  }
  return reduce(sums, sync);
}

}  // namespace gradflow
