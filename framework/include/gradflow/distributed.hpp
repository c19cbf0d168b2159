// Synchronous data-parallel training over MPI (docs/distributed.md). Each rank trains on its
// contiguous slice of every global batch; the gradients of a node's parameters are copied into
// a bucket as soon as that node's backward finishes, and a bucket is reduced
// (MPI_Iallreduce, SUM) as soon as all its nodes are done, while the rest of backward runs.
// Buckets are started in one fixed order on every rank (MPI requires collectives in the same
// order), so the result is deterministic for a fixed number of ranks.
//
// Every wait on a collective is bounded: past GRADFLOW_MPI_TIMEOUT seconds (default 60) the
// rank prints what it was waiting for and calls MPI_Abort, which ends every rank.
//
// Built only when GRADFLOW_WITH_MPI is on (library gradflow_distributed); libgradflow itself
// does not depend on MPI.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

#include "gradflow/model.hpp"
#include "gradflow/trainer.hpp"

namespace gradflow {

// Thrown identically on every rank when they do not run the same thing (graph file, options,
// initial or resumed weights): every rank can then exit cleanly, without MPI_Abort.
struct RanksDisagree : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// MPI_Init_thread(MPI_THREAD_MULTIPLE) on construction, MPI_Finalize on destruction.
class MpiRuntime {
 public:
  MpiRuntime();
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // Ends every rank now (MPI_Abort) after printing `message` to stderr, prefixed with the rank.
  [[noreturn]] void abort(const std::string& message, int status = 1) const;
  // Seconds a collective may take before the rank aborts the job (GRADFLOW_MPI_TIMEOUT).
  double timeout_s() const { return timeout_s_; }

  // Every rank passes its description of the run; throws (on every rank, with the same message)
  // when they differ, naming the ranks and what differs.
  void check_same_everywhere(const std::string& what, uint64_t fingerprint) const;

 private:
  int rank_ = 0;
  int size_ = 1;
  double timeout_s_ = 60.0;
};

// The GradientSync that Trainer uses under mpirun.
class MpiGradientSync final : public GradientSync {
 public:
  // Installs itself as the model's on_gradients_ready callback. `bucket_bytes`: 0 reads
  // GRADFLOW_MPI_BUCKET_MB (default 25, as PyTorch DDP; the first bucket is capped at 1 MiB).
  MpiGradientSync(const MpiRuntime& runtime, Model& model, int64_t bucket_bytes = 0);
  ~MpiGradientSync() override;

  int rank() const override;
  int ranks() const override;
  double begin_step(int64_t local, int64_t global) override;
  double loss_weight(int64_t local, int64_t global) const override;
  void finish_step() override;
  void sum(std::span<double> values) override;
  void check_same_everywhere(const std::string& what, uint64_t fingerprint) override;

  int64_t bucket_count() const;
  int64_t floats_per_step() const;  // gradient floats each rank sends into the allreduce
  // Time finish_step spent waiting for the reductions (the communication backward did not
  // hide), summed over `steps_synced()` steps.
  double wait_seconds() const;
  int64_t steps_synced() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace gradflow
