// Training curves as an SVG picture: loss and accuracy per epoch, training and test.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace gradflow::runner {

struct CurvePoint {
  double epoch = 0;
  double loss = 0;
  std::optional<double> accuracy, test_loss, test_accuracy;
};

// Reads `--metrics` JSON lines (one object per epoch).
std::vector<CurvePoint> read_metrics(const std::string& path);

// An SVG document with a loss panel and, when any accuracy was recorded, an accuracy panel.
std::string render_curves_svg(const std::vector<CurvePoint>& points, const std::string& title);

// Writes `text` to `path` through a temporary file and a rename: never half a file.

}  // namespace gradflow::runner
