// The lines of a `train --metrics` file (docs/graph-format.md, 2d and 2g), as `plot` and the
// dashboard read them: one JSON object per line, of three kinds.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gradflow::runner {

enum class MetricsLineKind {
  Epoch,           // an epoch's end: epoch, step, loss, [accuracy, val_*, test_*, lr, best_epoch], elapsed_s
  Step,            // train.log_every_steps: step, epoch, loss, lr, samples_per_s, elapsed_s
  StepValidation,  // train.validate_every_steps: step, epoch, val_loss, [val_accuracy], elapsed_s
};

struct MetricsLine {
  MetricsLineKind kind = MetricsLineKind::Epoch;
  nlohmann::json fields;  // the object as written; numbers may be null (NaN and Inf are written as null)

  // A number of the line, or nothing when it is absent or null.
  std::optional<double> number(const char* key) const;
};

// One line (without its newline): the line, or why it is no --metrics line, in words that follow
// "FILE:LINE: ".
struct ParsedMetricsLine {
  std::optional<MetricsLine> line;
  std::string problem;
};
ParsedMetricsLine parse_metrics_line(std::string_view text);

// Splits `text` (a whole file, or what was read of one so far) into lines. A last line without
// its newline is a line cut mid-write when it does not parse: it is left out, and `torn` says so.
struct MetricsText {
  std::vector<MetricsLine> lines;
  bool torn = false;
};
// Throws std::runtime_error "PATH:N: WHAT" at the first line that is no --metrics line.
MetricsText parse_metrics_text(std::string_view text, const std::string& path);

}  // namespace gradflow::runner
