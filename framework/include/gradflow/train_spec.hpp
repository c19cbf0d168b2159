// The `train:` section of a graph file (docs/graph-format.md, "train"): how long and in what
// batches to train, and the training schedule (learning-rate schedule, gradient clipping,
// early stopping), each with PyTorch's semantics.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "gradflow/diagnostics.hpp"

namespace gradflow {

enum class ScheduleKind { Step, MultiStep, Exponential, Cosine, Plateau };
const char* to_string(ScheduleKind kind);

// What the schedule counts (train.lr_schedule.interval): epochs, or optimizer steps, as a torch
// scheduler stepped after every epoch or after every batch.
enum class ScheduleInterval { Epoch, Step };

// train.lr_schedule: torch.optim.lr_scheduler's StepLR, MultiStepLR, ExponentialLR,
// CosineAnnealingLR (after a LinearLR warm-up, as SequentialLR) and ReduceLROnPlateau.
struct LrScheduleSpec {
  ScheduleKind kind = ScheduleKind::Step;
  // With Step, every count below (step_size, milestones, warm-up, t_max) is in optimizer steps.
  ScheduleInterval interval = ScheduleInterval::Epoch;
  int64_t step_size = 0;            // step
  std::vector<int64_t> milestones;  // multistep, ascending
  double gamma = 0.1;               // step, multistep, exponential
  int64_t warmup_epochs = 0;        // linear warm-up before the schedule (not with plateau)
  double warmup_start_factor = 0.1;
  std::optional<int64_t> t_max;     // cosine: epochs after the warm-up; unset: the rest of the run
  double eta_min = 0.0;             // cosine
  double factor = 0.1;              // plateau
  int64_t patience = 10;            // plateau
  double threshold = 1e-4;          // plateau, relative
  SourceLocation where;
};

// train.early_stopping: stop when the validation loss has not improved by more than
// min_delta for `patience` epochs, and keep the best epoch's weights.
struct EarlyStoppingSpec {
  int64_t patience = 0;
  double min_delta = 0.0;
  SourceLocation where;
};

struct TrainSpec {
  int64_t epochs = 1;
  int64_t batch_size = 0;  // 0: the whole training set
  bool shuffle = true;
  // Epochs between checkpoints when --save is given; unset: every epoch, at most one per 5 s.
  std::optional<int64_t> checkpoint_every;
  // Optimizer steps between checkpoints inside epochs when --save is given (as well as those
  // of checkpoint_every); a resumed run continues from the step a checkpoint holds.
  std::optional<int64_t> checkpoint_every_steps;
  std::optional<LrScheduleSpec> lr_schedule;
  std::optional<double> clip_grad_norm;   // torch.nn.utils.clip_grad_norm_ (max_norm)
  std::optional<double> clip_grad_value;  // torch.nn.utils.clip_grad_value_
  std::optional<EarlyStoppingSpec> early_stopping;
  // Optimizer steps between validations inside an epoch (a loss curve per step for long
  // epochs); the end-of-epoch validation runs as well. Needs validation data.
  std::optional<int64_t> validate_every_steps;
  SourceLocation validate_every_steps_where;
  // train.on_nonfinite: `stop` (default) ends the run with an error when a training loss is NaN
  // or infinite; `continue` trains on regardless.
  bool stop_on_nonfinite = true;
  // Optimizer steps between the step lines of --metrics (loss, lr, samples/s; the dashboard's
  // curves per step); 0: epoch lines only.
  int64_t log_every_steps = 10;
};

}  // namespace gradflow
