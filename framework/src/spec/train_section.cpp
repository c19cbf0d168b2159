// The `train:` section (docs/graph-format.md, "train"). Every check records a diagnostic and
// carries on, so one run reports every bad key.
#include "spec/train_section.hpp"

#include <fmt/format.h>

#include <limits>

#include "spec/yaml_util.hpp"

namespace gradflow {

const char* to_string(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::Step: return "step";
    case ScheduleKind::MultiStep: return "multistep";
    case ScheduleKind::Exponential: return "exponential";
    case ScheduleKind::Cosine: return "cosine";
    case ScheduleKind::Plateau: return "plateau";
  }
  return "?";
}

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

const std::vector<std::string> kTrainKeys = {"epochs",        "batch_size",     "shuffle",
                                             "checkpoint_every", "lr_schedule", "clip_grad_norm",
                                             "clip_grad_value", "early_stopping", "validate_every_steps",
                                             "checkpoint_every_steps", "on_nonfinite", "log_every_steps"};
const std::vector<std::string> kKindNames = {"step", "multistep", "exponential", "cosine", "plateau"};
const std::vector<std::string> kWarmupKeys = {"warmup_epochs", "warmup_start_factor"};

// The keys each schedule kind takes besides `kind`, as torch's scheduler of that kind does.
std::vector<std::string> keys_of(ScheduleKind kind) {
  std::vector<std::string> keys;
  switch (kind) {
    case ScheduleKind::Step: keys = {"step_size", "gamma"}; break;
    case ScheduleKind::MultiStep: keys = {"milestones", "gamma"}; break;
    case ScheduleKind::Exponential: keys = {"gamma"}; break;
    case ScheduleKind::Cosine: keys = {"t_max", "eta_min"}; break;
    case ScheduleKind::Plateau: return {"factor", "patience", "threshold"};  // torch's plateau has no warm-up
  }
  keys.insert(keys.end(), kWarmupKeys.begin(), kWarmupKeys.end());
  return keys;
}

// A number in a range, for messages like "train.clip_grad_norm must be a number > 0, got 'x'".
struct Range {
  double min = -kInf;
  bool min_exclusive = false;
  double max = kInf;
  bool max_exclusive = false;

  bool holds(double v) const {
    return (min_exclusive ? v > min : v >= min) && (max_exclusive ? v < max : v <= max);
  }
  std::string describe() const {
    std::string text;
    if (min > -kInf) text += fmt::format("{} {}", min_exclusive ? ">" : ">=", min);
    if (max < kInf) text += fmt::format("{}{} {}", text.empty() ? "" : " and ", max_exclusive ? "<" : "<=", max);
    return text;
  }
};

class TrainSectionReader {
 public:
  TrainSectionReader(const std::string& file, Diagnostics& diagnostics) : file_(file), diagnostics_(diagnostics) {}

  TrainSpec read(const YAML::Node& train) {
    TrainSpec spec;
    if (!train) return spec;
    if (!train.IsMap()) {
      error(train, "'train' must be a mapping with epochs, batch_size, shuffle");
      return spec;
    }
    check_known_keys(train, kTrainKeys, "key in 'train'", file_, diagnostics_);
    integer(train, "train", "epochs", 0, spec.epochs);
    integer(train, "train", "batch_size", 1, spec.batch_size);
    int64_t every = 0;
    if (integer(train, "train", "checkpoint_every", 1, every)) spec.checkpoint_every = every;
    if (integer(train, "train", "checkpoint_every_steps", 1, every)) spec.checkpoint_every_steps = every;
    if (integer(train, "train", "validate_every_steps", 1, every)) {
      spec.validate_every_steps = every;
      spec.validate_every_steps_where = locate(file_, train["validate_every_steps"]);
    }
    integer(train, "train", "log_every_steps", 0, spec.log_every_steps);
    if (const YAML::Node v = train["shuffle"]) {
      if (auto value = scalar_as<bool>(v)) spec.shuffle = *value;
      else error(v, "train.shuffle must be true or false, got " + describe(v));
    }
    if (const YAML::Node v = train["on_nonfinite"]) {
      const auto value = scalar_as<std::string>(v);
      if (value == "stop" || value == "continue") spec.stop_on_nonfinite = *value == "stop";
      else error(v, "train.on_nonfinite must be 'stop' or 'continue', got " + describe(v));
    }
    const Range positive{0.0, true};
    double clip = 0.0;
    if (number(train, "train", "clip_grad_norm", positive, clip)) spec.clip_grad_norm = clip;
    if (number(train, "train", "clip_grad_value", positive, clip)) spec.clip_grad_value = clip;
    if (const YAML::Node schedule = train["lr_schedule"]) spec.lr_schedule = read_schedule(schedule);
    if (const YAML::Node stopping = train["early_stopping"]) spec.early_stopping = read_early_stopping(stopping);
    return spec;
  }

 private:
  void error(const YAML::Node& node, std::string message) { diagnostics_.error(locate(file_, node), std::move(message)); }

  // Reads map[key] into `target` when present and valid; true when it was read.
  bool integer(const YAML::Node& map, const std::string& where, const char* key, int64_t min, int64_t& target) {
    const YAML::Node v = map[key];
    if (!v) return false;
    const auto value = scalar_as<int64_t>(v);
    if (!value || *value < min) {
      error(v, fmt::format("{}.{} must be an integer >= {}, got {}", where, key, min, describe(v)));
      return false;
    }
    target = *value;
    return true;
  }

  bool number(const YAML::Node& map, const std::string& where, const char* key, const Range& range, double& target) {
    const YAML::Node v = map[key];
    if (!v) return false;
    const auto value = scalar_as<double>(v);
    if (!value || !range.holds(*value)) {
      error(v, fmt::format("{}.{} must be a number {}, got {}", where, key, range.describe(), describe(v)));
      return false;
    }
    target = *value;
    return true;
  }

  std::optional<ScheduleKind> read_kind(const YAML::Node& schedule) {
    const YAML::Node kind = schedule["kind"];
    if (!kind) {
      error(schedule, fmt::format("train.lr_schedule needs a 'kind': one of {}", fmt::join(kKindNames, ", ")));
      return std::nullopt;
    }
    const auto name = scalar_as<std::string>(kind).value_or("");
    for (size_t i = 0; i < kKindNames.size(); ++i)
      if (name == kKindNames[i]) return static_cast<ScheduleKind>(i);
    error(kind, fmt::format("unknown train.lr_schedule.kind {} ({}expected one of: {})", describe(kind),
                            did_you_mean(name, kKindNames), fmt::join(kKindNames, ", ")));
    return std::nullopt;
  }

  std::optional<LrScheduleSpec> read_schedule(const YAML::Node& schedule) {
    if (!schedule.IsMap()) {
      error(schedule, fmt::format("train.lr_schedule must be a mapping with a 'kind' ({}), got {}",
                                  fmt::join(kKindNames, ", "), describe(schedule)));
      return std::nullopt;
    }
    const auto kind = read_kind(schedule);
    if (!kind) return std::nullopt;
    LrScheduleSpec spec;
    spec.kind = *kind;
    spec.where = locate(file_, schedule);
    check_schedule_keys(schedule, *kind);
    read_interval(schedule, spec);
    const std::string where = "train.lr_schedule";
    const Range positive{0.0, true};
    const Range non_negative{0.0, false};
    number(schedule, where, "gamma", positive, spec.gamma);
    integer(schedule, where, "warmup_epochs", 0, spec.warmup_epochs);
    number(schedule, where, "warmup_start_factor", Range{0.0, true, 1.0, false}, spec.warmup_start_factor);
    int64_t t_max = 0;
    if (integer(schedule, where, "t_max", 1, t_max)) spec.t_max = t_max;
    number(schedule, where, "eta_min", non_negative, spec.eta_min);
    number(schedule, where, "factor", Range{0.0, true, 1.0, true}, spec.factor);
    integer(schedule, where, "patience", 0, spec.patience);
    number(schedule, where, "threshold", non_negative, spec.threshold);
    if (*kind == ScheduleKind::Step && !integer(schedule, where, "step_size", 1, spec.step_size) &&
        !schedule["step_size"])
      error(schedule, "train.lr_schedule of kind step needs 'step_size' (epochs between decays)");
    if (*kind == ScheduleKind::Exponential && !schedule["gamma"])
      error(schedule, "train.lr_schedule of kind exponential needs 'gamma' (the factor applied every epoch)");
    if (*kind == ScheduleKind::MultiStep) spec.milestones = read_milestones(schedule);
    return spec;
  }

  // Every key must be one the kind takes; a key of another kind names the kinds it belongs to.
  void check_schedule_keys(const YAML::Node& schedule, ScheduleKind kind) {
    std::vector<std::string> known = keys_of(kind);
    known.insert(known.begin(), {"kind", "interval"});
    for (const auto& item : schedule) {
      const std::string key = item.first.as<std::string>();
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      std::vector<std::string> owners;
      for (size_t k = 0; k < kKindNames.size(); ++k) {
        const auto keys = keys_of(static_cast<ScheduleKind>(k));
        if (std::find(keys.begin(), keys.end(), key) != keys.end()) owners.push_back(kKindNames[k]);
      }
      if (!owners.empty())
        error(item.first, fmt::format("train.lr_schedule: '{}' does not apply to kind {} (it is a key of {}; kind {} "
                                      "takes: {})",
                                      key, to_string(kind), fmt::join(owners, ", "), to_string(kind),
                                      fmt::join(known, ", ")));
      else
        error(item.first, fmt::format("unknown key in 'train.lr_schedule' '{}' ({}expected one of: {})", key,
                                      did_you_mean(key, known), fmt::join(known, ", ")));
    }
  }

  // interval: epoch (the default) or step; plateau watches a validation loss once an epoch.
  void read_interval(const YAML::Node& schedule, LrScheduleSpec& spec) {
    const YAML::Node v = schedule["interval"];
    if (!v) return;
    const auto name = scalar_as<std::string>(v).value_or("");
    if (name == "epoch" || name == "step")
      spec.interval = name == "step" ? ScheduleInterval::Step : ScheduleInterval::Epoch;
    else
      error(v, "train.lr_schedule.interval must be epoch or step, got " + describe(v));
    if (spec.interval == ScheduleInterval::Step && spec.kind == ScheduleKind::Plateau)
      error(v, "train.lr_schedule of kind plateau steps on the validation loss after each epoch: it takes no "
               "'interval: step'");
  }

  std::vector<int64_t> read_milestones(const YAML::Node& schedule) {
    const YAML::Node list = schedule["milestones"];
    if (!list) {
      error(schedule, "train.lr_schedule of kind multistep needs 'milestones' (a list of epochs, ascending)");
      return {};
    }
    std::vector<int64_t> milestones;
    const std::string expected = "train.lr_schedule.milestones must be a non-empty list of ascending epochs >= 1";
    if (!list.IsSequence() || list.size() == 0) {
      error(list, fmt::format("{}, got {}", expected, list.IsSequence() ? "an empty list" : describe(list)));
      return {};
    }
    for (const YAML::Node& entry : list) {
      const auto epoch = scalar_as<int64_t>(entry);
      if (!epoch || *epoch < 1 || (!milestones.empty() && *epoch < milestones.back())) {
        error(entry, fmt::format("{}, got {}", expected, describe(entry)));
        return {};
      }
      milestones.push_back(*epoch);
    }
    return milestones;
  }

  std::optional<EarlyStoppingSpec> read_early_stopping(const YAML::Node& stopping) {
    if (!stopping.IsMap()) {
      error(stopping, "train.early_stopping must be a mapping like {patience: 5, min_delta: 0.0}, got " +
                          describe(stopping));
      return std::nullopt;
    }
    check_known_keys(stopping, {"patience", "min_delta"}, "key in 'train.early_stopping'", file_, diagnostics_);
    EarlyStoppingSpec spec;
    spec.where = locate(file_, stopping);
    if (!stopping["patience"])
      error(stopping, "train.early_stopping needs 'patience' (epochs without improvement before stopping)");
    integer(stopping, "train.early_stopping", "patience", 0, spec.patience);
    number(stopping, "train.early_stopping", "min_delta", Range{0.0, false}, spec.min_delta);
    return spec;
  }

  const std::string& file_;
  Diagnostics& diagnostics_;
};

}  // namespace

TrainSpec read_train_section(const YAML::Node& train, const std::string& file, Diagnostics& diagnostics) {
  return TrainSectionReader(file, diagnostics).read(train);
}

void check_validation_needed(const TrainSpec& train, bool has_validation, Diagnostics& diagnostics) {
  if (has_validation) return;
  const std::string give = "give data.validation_split (a fraction of the training data) or a data.validation part";
  if (train.lr_schedule && train.lr_schedule->kind == ScheduleKind::Plateau)
    diagnostics.error(train.lr_schedule->where, "train.lr_schedule of kind plateau watches the validation loss: " + give);
  if (train.early_stopping)
    diagnostics.error(train.early_stopping->where, "train.early_stopping watches the validation loss: " + give);
  if (train.validate_every_steps)
    diagnostics.error(train.validate_every_steps_where, "train.validate_every_steps evaluates the validation data: " + give);
}

}  // namespace gradflow
