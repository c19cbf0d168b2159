// Training curves as an SVG picture: loss and accuracy per epoch (training, validation and
// test), and the learning rate.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace gradflow::runner {

struct CurvePoint {
  double epoch = 0;
  double loss = 0;
  std::optional<double> accuracy, test_loss, test_accuracy, val_loss, val_accuracy, lr;
};

// Reads `--metrics` JSON lines (one object per epoch).
std::vector<CurvePoint> read_metrics(const std::string& path);

// An SVG document with a loss panel, an accuracy panel when any accuracy was recorded, and a
// learning-rate panel when the learning rate was recorded.
std::string render_curves_svg(const std::vector<CurvePoint>& points, const std::string& title);


}  // namespace gradflow::runner
