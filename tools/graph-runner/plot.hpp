// Training curves as an SVG picture: the loss per step, loss and accuracy per epoch (training,
// validation and test), and the learning rate.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace gradflow::runner {

struct CurvePoint {
  double epoch = 0;
  std::optional<double> loss, accuracy, test_loss, test_accuracy, val_loss, val_accuracy, lr;
};

// What the curves are drawn from: the epochs' lines, and the lines written inside epochs (per
// step: train.log_every_steps; validations: train.validate_every_steps), by optimizer step.
struct Curves {
  std::vector<CurvePoint> epochs;
  std::vector<std::pair<double, double>> step_loss, step_lr, step_val_loss;  // (step, value)

  bool empty() const { return epochs.empty() && step_loss.empty() && step_val_loss.empty(); }
};

// Reads `--metrics` JSON lines: a finished run, or one still being written (a last line cut
// mid-write is left out). Throws "PATH:N: ..." at a line that is no --metrics line.
Curves read_metrics(const std::string& path);

// An SVG document with a panel of the loss per step when steps were recorded, a loss panel, an
// accuracy panel when any accuracy was recorded, and a learning-rate panel when the learning
// rate was recorded.
std::string render_curves_svg(const Curves& curves, const std::string& title);

}  // namespace gradflow::runner
