// graph-runner plot, and the drawing behind train --plot.
#include "command_line.hpp"
#include "plot.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "commands.hpp"
#include "gradflow/atomic_file.hpp"
#include "metrics_file.hpp"

namespace gradflow::runner {

Curves read_metrics(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read the metrics file " + path);
  std::stringstream text;
  text << in.rdbuf();
  const MetricsText metrics = parse_metrics_text(text.str(), path);
  if (metrics.torn)
    fmt::print(stderr, "note: {}: its last line is cut short (still being written?): left out\n", path);
  Curves curves;
  for (const MetricsLine& line : metrics.lines) {
    const auto step = line.number("step");
    switch (line.kind) {
      case MetricsLineKind::Epoch: {
        CurvePoint p;
        p.epoch = line.number("epoch").value_or(0.0);
        p.loss = line.number("loss");
        p.accuracy = line.number("accuracy");
        p.test_loss = line.number("test_loss");
        p.test_accuracy = line.number("test_accuracy");
        p.val_loss = line.number("val_loss");
        p.val_accuracy = line.number("val_accuracy");
        p.lr = line.number("lr");
        curves.epochs.push_back(p);
        break;
      }
      case MetricsLineKind::Step:
        if (const auto loss = line.number("loss")) curves.step_loss.emplace_back(*step, *loss);
        if (const auto lr = line.number("lr")) curves.step_lr.emplace_back(*step, *lr);
        break;
      case MetricsLineKind::StepValidation:
        if (const auto loss = line.number("val_loss")) curves.step_val_loss.emplace_back(*step, *loss);
        break;
    }
  }
  if (curves.empty()) throw std::runtime_error(path + " holds no epochs or steps yet");
  return curves;
}

namespace {

struct Series {
  std::string label, color;
  bool dashed;
  std::vector<std::pair<double, double>> xy;
};

// Round numbers for axis ticks: 1, 2 or 5 times a power of ten.
double nice_step(double span, int ticks) {
  const double raw = span / ticks;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * power) return m * power;
  return 10.0 * power;
}

std::string panel(const std::vector<Series>& series, const std::string& title, const std::string& x_label, double x0,
                  double width, double height, bool legend_at_bottom) {
  constexpr double kLeft = 60, kRight = 15, kTop = 35, kBottom = 45;
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const Series& s : series)
    for (auto [x, y] : s.xy) {
      xmin = std::min(xmin, x), xmax = std::max(xmax, x);
      ymin = std::min(ymin, y), ymax = std::max(ymax, y);
    }
  if (xmin > xmax) xmin = 0, xmax = 1, ymin = 0, ymax = 1;  // no points
  if (xmax <= xmin) xmax = xmin + 1;
  if (ymax <= ymin) ymax = ymin + 1;
  const double ystep = nice_step(ymax - ymin, 5);
  ymin = std::floor(ymin / ystep) * ystep;
  ymax = std::ceil(ymax / ystep) * ystep;
  const double pw = width - kLeft - kRight, ph = height - kTop - kBottom;
  auto px = [&](double x) { return x0 + kLeft + (x - xmin) / (xmax - xmin) * pw; };
  auto py = [&](double y) { return kTop + (ymax - y) / (ymax - ymin) * ph; };
  std::string svg = fmt::format("<text x=\"{:.1f}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{}</text>\n", x0 + kLeft, title);
  svg += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" stroke=\"#888\"/>\n",
                     x0 + kLeft, kTop, pw, ph);
  for (double y = ymin; y <= ymax + ystep / 2; y += ystep)
    svg += fmt::format("<line x1=\"{0:.1f}\" x2=\"{1:.1f}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"#eee\"/>"
                       "<text x=\"{3:.1f}\" y=\"{4:.1f}\" font-size=\"11\" text-anchor=\"end\">{5:.4g}</text>\n",
                       px(xmin), px(xmax), py(y), px(xmin) - 5, py(y) + 4, y);
  const double xstep = nice_step(xmax - xmin, 6);
  for (double x = std::ceil(xmin / xstep) * xstep; x <= xmax + xstep / 2; x += xstep)
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"middle\">{:.4g}</text>\n", px(x),
                       kTop + ph + 16, x);
  svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"12\" text-anchor=\"middle\">{}</text>\n",
                     x0 + kLeft + pw / 2, height - 8, x_label);
  const auto drawn = std::count_if(series.begin(), series.end(), [](const Series& s) { return !s.xy.empty(); });
  double legend_y = legend_at_bottom ? kTop + ph - 18.0 * static_cast<double>(drawn) : kTop + 14;
  for (const Series& s : series) {
    if (s.xy.empty()) continue;
    std::string path;
    for (auto [x, y] : s.xy) path += fmt::format("{}{:.1f},{:.1f}", path.empty() ? "M" : " L", px(x), py(y));
    svg += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{}/>\n", path, s.color,
                       s.dashed ? " stroke-dasharray=\"6,4\"" : "");
    svg += fmt::format("<line x1=\"{0:.1f}\" x2=\"{1:.1f}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\" stroke-width=\"2\"{4}/>"
                       "<text x=\"{5:.1f}\" y=\"{6:.1f}\" font-size=\"12\">{7}</text>\n",
                       x0 + width - kRight - 120, x0 + width - kRight - 95, legend_y, s.color,
                       s.dashed ? " stroke-dasharray=\"6,4\"" : "", x0 + width - kRight - 90, legend_y + 4, s.label);
    legend_y += 18;
  }
  return svg;
}

}  // namespace

std::string render_curves_svg(const Curves& curves, const std::string& title) {
  Series loss{"train loss", "#1f77b4", false, {}}, val_loss{"validation loss", "#2ca02c", true, {}},
      test_loss{"test loss", "#ff7f0e", true, {}};
  Series accuracy{"train accuracy", "#1f77b4", false, {}}, val_accuracy{"validation accuracy", "#2ca02c", true, {}},
      test_accuracy{"test accuracy", "#ff7f0e", true, {}};
  Series lr{"learning rate", "#9467bd", false, {}};
  Series step_loss{"train loss", "#1f77b4", false, {}}, step_val_loss{"validation loss", "#2ca02c", true, {}},
      step_lr{"learning rate", "#9467bd", false, {}};
  // NaN and Inf (a diverged run's loss, written as null) leave a point out.
  auto add = [](Series& s, double x, std::optional<double> y, double scale = 1.0) {
    if (y && std::isfinite(*y)) s.xy.emplace_back(x, *y * scale);
  };
  for (const CurvePoint& p : curves.epochs) {
    add(loss, p.epoch, p.loss);
    add(val_loss, p.epoch, p.val_loss);
    add(test_loss, p.epoch, p.test_loss);
    add(accuracy, p.epoch, p.accuracy, 100.0);
    add(val_accuracy, p.epoch, p.val_accuracy, 100.0);
    add(test_accuracy, p.epoch, p.test_accuracy, 100.0);
    add(lr, p.epoch, p.lr);
  }
  for (auto [step, value] : curves.step_loss) add(step_loss, step, value);
  for (auto [step, value] : curves.step_val_loss) add(step_val_loss, step, value);
  for (auto [step, value] : curves.step_lr) add(step_lr, step, value);
  struct Panel {
    std::vector<Series> series;
    std::string title, x_label;
    bool legend_at_bottom;
  };
  std::vector<Panel> panels;
  if (!step_loss.xy.empty() || !step_val_loss.xy.empty())
    panels.push_back({{step_loss, step_val_loss}, title + ": loss per step", "step", false});
  if (!loss.xy.empty() || !val_loss.xy.empty() || !test_loss.xy.empty())
    panels.push_back({{loss, val_loss, test_loss}, title + ": loss", "epoch", false});
  if (!accuracy.xy.empty() || !val_accuracy.xy.empty() || !test_accuracy.xy.empty())
    panels.push_back({{accuracy, val_accuracy, test_accuracy}, title + ": accuracy (%)", "epoch", true});
  if (!lr.xy.empty()) panels.push_back({{lr}, title + ": learning rate", "epoch", false});
  else if (!step_lr.xy.empty()) panels.push_back({{step_lr}, title + ": learning rate", "step", false});
  if (panels.empty()) panels.push_back({{loss}, title + ": loss", "epoch", false});  // every loss was NaN
  constexpr double kPanelWidth = 460, kHeight = 320;
  const double width = kPanelWidth * static_cast<double>(panels.size());
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"Helvetica, Arial, sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      width, kHeight);
  for (size_t i = 0; i < panels.size(); ++i)
    svg += panel(panels[i].series, panels[i].title, panels[i].x_label, kPanelWidth * static_cast<double>(i),
                 kPanelWidth, kHeight, panels[i].legend_at_bottom);
  return svg + "</svg>\n";
}

Command add_plot(CLI::App& app) {
  struct Args {
    std::string metrics, output, title = "training";
  };
  auto args = std::make_shared<Args>();
  CLI::App* command = app.add_subcommand("plot", "draw --metrics JSON lines as loss and accuracy curves (SVG), of a finished run or one still going");
  command->add_option("metrics", args->metrics, "metrics file written by train --metrics")->required()->check(existing_file("metrics file"));
  command->add_option("-o,--output", args->output, "SVG file to write")->required();
  command->add_option("--title", args->title, "title above the panels")->capture_default_str();
  return {command, [args] {
            write_file_atomically(args->output, render_curves_svg(read_metrics(args->metrics), args->title));
            fmt::print("wrote {}\n", args->output);
            return 0;
          }};
}

}  // namespace gradflow::runner
