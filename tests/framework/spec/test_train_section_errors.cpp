// The training schedule's keys (train.lr_schedule, clip_grad_*, early_stopping, and the
// validation data they watch): each bad value gets its own FILE:LINE:COLUMN message.
#include <catch2/catch.hpp>

#include "framework/graph_fixtures.hpp"

using gradflow::test::errors_of;
using gradflow::test::kXor;
using Lines = std::vector<std::string>;

namespace {

// kXor (16 lines) with `extra` appended from line 17.
Lines errors_with(const std::string& extra) { return errors_of(std::string(kXor) + extra); }

const std::string kKinds = "step, multistep, exponential, cosine, plateau";
const std::string kNeedsValidation =
    "watches the validation loss: give data.validation_split (a fraction of the training data) or a data.validation part";

}  // namespace

TEST_CASE("train.lr_schedule: an unknown, missing or misplaced kind", "[errors][schedule]") {
  CHECK(errors_with("train:\n  lr_schedule: {kind: cosin}\n") ==
        Lines{"g.yaml:18:23: error: unknown train.lr_schedule.kind 'cosin' (did you mean 'cosine'? expected one of: " +
              kKinds + ")"});
  CHECK(errors_with("train:\n  lr_schedule: {gamma: 0.5}\n") ==
        Lines{"g.yaml:18:16: error: train.lr_schedule needs a 'kind': one of " + kKinds});
  CHECK(errors_with("train:\n  lr_schedule: cosine\n") ==
        Lines{"g.yaml:18:16: error: train.lr_schedule must be a mapping with a 'kind' (" + kKinds + "), got 'cosine'"});
}

TEST_CASE("train.lr_schedule: a key of another kind, or of none", "[errors][schedule]") {
  CHECK(errors_with("train:\n  lr_schedule: {kind: cosine, gamma: 0.5, t_maxx: 3}\n") ==
        Lines{"g.yaml:18:31: error: train.lr_schedule: 'gamma' does not apply to kind cosine (it is a key of step, "
              "multistep, exponential; kind cosine takes: kind, interval, t_max, eta_min, warmup_epochs, "
              "warmup_start_factor)",
              "g.yaml:18:43: error: unknown key in 'train.lr_schedule' 't_maxx' (did you mean 't_max'? expected one of: "
              "kind, interval, t_max, eta_min, warmup_epochs, warmup_start_factor)"});
}

TEST_CASE("train.lr_schedule: what each kind needs", "[errors][schedule]") {
  CHECK(errors_with("train:\n  lr_schedule: {kind: step}\n") ==
        Lines{"g.yaml:18:16: error: train.lr_schedule of kind step needs 'step_size' (epochs between decays)"});
  CHECK(errors_with("train:\n  lr_schedule: {kind: exponential}\n") ==
        Lines{"g.yaml:18:16: error: train.lr_schedule of kind exponential needs 'gamma' (the factor applied every epoch)"});
  CHECK(errors_with("train:\n  lr_schedule: {kind: multistep}\n") ==
        Lines{"g.yaml:18:16: error: train.lr_schedule of kind multistep needs 'milestones' (a list of epochs, ascending)"});
  CHECK(errors_with("train:\n  lr_schedule: {kind: multistep, milestones: [3, 2]}\n") ==
        Lines{"g.yaml:18:50: error: train.lr_schedule.milestones must be a non-empty list of ascending epochs >= 1, "
              "got '2'"});
  CHECK(errors_with("train:\n  lr_schedule: {kind: multistep, milestones: []}\n") ==
        Lines{"g.yaml:18:46: error: train.lr_schedule.milestones must be a non-empty list of ascending epochs >= 1, "
              "got an empty list"});
}

TEST_CASE("train.lr_schedule: numbers out of range", "[errors][schedule]") {
  CHECK(errors_with("train:\n  lr_schedule: {kind: exponential, gamma: -1}\n") ==
        Lines{"g.yaml:18:43: error: train.lr_schedule.gamma must be a number > 0, got '-1'"});
  CHECK(errors_with("train:\n  lr_schedule: {kind: step, step_size: 0}\n") ==
        Lines{"g.yaml:18:40: error: train.lr_schedule.step_size must be an integer >= 1, got '0'"});
  CHECK(errors_with("train:\n  lr_schedule: {kind: cosine, warmup_epochs: -1, warmup_start_factor: 0, t_max: 0, "
                    "eta_min: -1}\n") ==
        Lines{"g.yaml:18:46: error: train.lr_schedule.warmup_epochs must be an integer >= 0, got '-1'",
              "g.yaml:18:71: error: train.lr_schedule.warmup_start_factor must be a number > 0 and <= 1, got '0'",
              "g.yaml:18:81: error: train.lr_schedule.t_max must be an integer >= 1, got '0'",
              "g.yaml:18:93: error: train.lr_schedule.eta_min must be a number >= 0, got '-1'"});
}

TEST_CASE("train.lr_schedule: plateau has no warm-up, a factor below 1, and needs validation data",
          "[errors][schedule]") {
  CHECK(errors_with("train:\n  lr_schedule: {kind: plateau, factor: 1.0, warmup_epochs: 2, patience: -2}\n") ==
        Lines{"g.yaml:18:45: error: train.lr_schedule: 'warmup_epochs' does not apply to kind plateau (it is a key of "
              "step, multistep, exponential, cosine; kind plateau takes: kind, interval, factor, patience, threshold)",
              "g.yaml:18:40: error: train.lr_schedule.factor must be a number > 0 and < 1, got '1.0'",
              "g.yaml:18:73: error: train.lr_schedule.patience must be an integer >= 0, got '-2'",
              "g.yaml:18:16: error: train.lr_schedule of kind plateau " + kNeedsValidation});
}

TEST_CASE("train.clip_grad_norm and clip_grad_value must be positive numbers", "[errors][schedule]") {
  CHECK(errors_with("train:\n  clip_grad_norm: 0\n  clip_grad_value: abc\n") ==
        Lines{"g.yaml:18:19: error: train.clip_grad_norm must be a number > 0, got '0'",
              "g.yaml:19:20: error: train.clip_grad_value must be a number > 0, got 'abc'"});
}

TEST_CASE("train.early_stopping: patience, min_delta, and validation data", "[errors][schedule]") {
  CHECK(errors_with("train:\n  early_stopping: {patience: -1}\n") ==
        Lines{"g.yaml:18:30: error: train.early_stopping.patience must be an integer >= 0, got '-1'",
              "g.yaml:18:19: error: train.early_stopping " + kNeedsValidation});
  CHECK(errors_with("train:\n  early_stopping: {min_delta: -0.1, patiense: 3}\n") ==
        Lines{"g.yaml:18:37: error: unknown key in 'train.early_stopping' 'patiense' (did you mean 'patience'? "
              "expected one of: patience, min_delta)",
              "g.yaml:18:19: error: train.early_stopping needs 'patience' (epochs without improvement before stopping)",
              "g.yaml:18:31: error: train.early_stopping.min_delta must be a number >= 0, got '-0.1'",
              "g.yaml:18:19: error: train.early_stopping " + kNeedsValidation});
  CHECK(errors_with("train:\n  early_stopping: 5\n") ==
        Lines{"g.yaml:18:19: error: train.early_stopping must be a mapping like {patience: 5, min_delta: 0.0}, got '5'"});
}

TEST_CASE("data.validation_split: a fraction below 1, not beside a validation part", "[errors][schedule]") {
  CHECK(errors_with("  validation_split: 1.0\n") ==
        Lines{"g.yaml:17:21: error: data.validation_split must be a fraction between 0 and 1 (exclusive), got '1.0'"});
  CHECK(errors_with("  validation_split: 0\n") ==
        Lines{"g.yaml:17:21: error: data.validation_split must be a fraction between 0 and 1 (exclusive), got '0'"});
  CHECK(errors_with("  validation_split: 0.5\n  validation:\n    x: [[0, 0]]\n    y: [[0]]\n") ==
        Lines{"g.yaml:17:21: error: data.validation_split and data.validation exclude each other: the validation set "
              "would be given twice"});
}

TEST_CASE("a validation split or part satisfies early stopping and plateau", "[errors][schedule]") {
  CHECK(errors_with("  validation_split: 0.25\ntrain:\n  early_stopping: {patience: 2}\n"
                    "  lr_schedule: {kind: plateau}\n")
            .empty());
  CHECK(errors_with("  validation:\n    x: [[0, 0]]\n    y: [[0]]\ntrain:\n  early_stopping: {patience: 2}\n").empty());
}

TEST_CASE("train.checkpoint_every_steps and train.lr_schedule.interval", "[errors][schedule]") {
  CHECK(errors_with("train:\n  checkpoint_every_steps: 0\n") ==
        Lines{"g.yaml:18:27: error: train.checkpoint_every_steps must be an integer >= 1, got '0'"});
  CHECK(errors_with("train:\n  checkpoint_every_steps: often\n") ==
        Lines{"g.yaml:18:27: error: train.checkpoint_every_steps must be an integer >= 1, got 'often'"});
  CHECK(errors_with("train:\n  lr_schedule: {kind: cosine, interval: batch}\n") ==
        Lines{"g.yaml:18:41: error: train.lr_schedule.interval must be epoch or step, got 'batch'"});
  CHECK(errors_with("train:\n  lr_schedule: {kind: plateau, interval: step}\n") ==
        Lines{"g.yaml:18:42: error: train.lr_schedule of kind plateau steps on the validation loss after each epoch: "
              "it takes no 'interval: step'",
              "g.yaml:18:16: error: train.lr_schedule of kind plateau " + kNeedsValidation});
  CHECK(errors_with("train:\n  checkpoint_every_steps: 10\n  lr_schedule: {kind: cosine, interval: step}\n").empty());
}

TEST_CASE("train.log_every_steps: an integer >= 0 (0: no step lines in --metrics)", "[errors][metrics]") {
  CHECK(errors_with("train:\n  log_every_steps: 0\n").empty());
  CHECK(errors_with("train:\n  log_every_steps: 25\n").empty());
  CHECK(errors_with("train:\n  log_every_steps: -1\n") ==
        Lines{"g.yaml:18:20: error: train.log_every_steps must be an integer >= 0, got '-1'"});
  CHECK(errors_with("train:\n  log_every_steps: 2.5\n") ==
        Lines{"g.yaml:18:20: error: train.log_every_steps must be an integer >= 0, got '2.5'"});
  CHECK(errors_with("train:\n  log_every_steps: [10]\n") ==
        Lines{"g.yaml:18:20: error: train.log_every_steps must be an integer >= 0, got a list"});
  const Lines misspelt = errors_with("train:\n  log_every_step: 5\n");
  REQUIRE(misspelt.size() == 1);
  CHECK(misspelt[0].rfind("g.yaml:18:3: error: unknown key in 'train' 'log_every_step' (did you mean 'log_every_steps'? "
                          "expected one of: ",
                          0) == 0);
}
