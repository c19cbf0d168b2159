// validate, ops, dot and gradcheck: commands that look at a graph without training it.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <unistd.h>

#include "commands.hpp"
#include "session.hpp"
#include "gradflow/gradcheck.hpp"
#include "gradflow/trainer.hpp"
#include "gradflow/plugin.hpp"
#include "gradflow/scheduler.hpp"

namespace gradflow::runner {

namespace {

std::string shape_of(const Value& value) {
  return value.producer >= 0 && value.sample_shape.empty() ? "scalar" : to_string(value.sample_shape);
}

void print_validation_table(const Model& model) {
  fmt::print("graph '{}': {} inputs, {} nodes, {} parameters\n", model.spec().name, model.spec().inputs.size(),
             model.nodes().size() + model.optimizers().size(), model.parameter_count());
  fmt::print("{:<16} {:<16} {:<28} {:<12} {:>10}\n", "node", "op", "inputs", "output", "params");
  for (const InputSpec& input : model.spec().inputs)
    fmt::print("{:<16} {:<16} {:<28} {:<12} {:>10}\n", input.name, "(input)", "-", to_string(input.shape), 0);
  for (int n : model.topological_order()) {
    const ComputeNode& node = model.nodes()[static_cast<size_t>(n)];
    std::vector<std::string> inputs;
    for (int v : node.inputs) inputs.push_back(model.values()[static_cast<size_t>(v)].name);
    int64_t params = 0;
    for (const Parameter& p : node.impl->parameters()) params += p.value.size();
    fmt::print("{:<16} {:<16} {:<28} {:<12} {:>10}\n", node.name, node.op, fmt::format("{}", fmt::join(inputs, ", ")),
               shape_of(model.values()[static_cast<size_t>(node.output)]), params);
  }
  for (const OptimizerNode& opt : model.optimizers()) {
    std::vector<std::string> losses;
    for (int n : opt.losses) losses.push_back(model.nodes()[static_cast<size_t>(n)].name);
    fmt::print("{:<16} {:<16} {:<28} {:<12} {:>10}\n", opt.name, opt.op, fmt::format("{}", fmt::join(losses, ", ")),
               fmt::format("{} tensors", opt.params.size()), 0);
  }
}

std::string dot_label(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    if (c == '"' || c == '\\') escaped += '\\';
    escaped += c;
  }
  return escaped;
}

std::string format_dot(const Model& model) {
  std::string dot = fmt::format("digraph \"{}\" {{\n  rankdir=TB;\n  node [fontname=\"Helvetica\"];\n", dot_label(model.spec().name));
  for (const InputSpec& input : model.spec().inputs)
    dot += fmt::format("  \"{}\" [shape=ellipse, label=\"{}\\n{}\"];\n", dot_label(input.name), dot_label(input.name),
               to_string(input.shape));
  for (const ComputeNode& node : model.nodes()) {
    const char* shape = node.kind == OpKind::Loss ? "octagon" : "box";
    dot += fmt::format("  \"{}\" [shape={}, label=\"{}\\n{}\\n{}\"];\n", dot_label(node.name), shape, dot_label(node.name),
               dot_label(node.op), shape_of(model.values()[static_cast<size_t>(node.output)]));
    for (int v : node.inputs)
      dot += fmt::format("  \"{}\" -> \"{}\";\n", dot_label(model.values()[static_cast<size_t>(v)].name), dot_label(node.name));
  }
  for (const OptimizerNode& opt : model.optimizers()) {
    dot += fmt::format("  \"{}\" [shape=diamond, label=\"{}\\n{}\"];\n", dot_label(opt.name), dot_label(opt.name), dot_label(opt.op));
    for (int n : opt.losses)
      dot += fmt::format("  \"{}\" -> \"{}\" [style=dashed];\n", dot_label(model.nodes()[static_cast<size_t>(n)].name),
                 dot_label(opt.name));
  }
  return dot + "}\n";
}

// Renders DOT text to an SVG file with Graphviz's `dot`, through a temporary file.
void render_svg(const std::string& dot_text, const std::string& path) {
  if (std::system("command -v dot > /dev/null 2>&1") != 0)
    throw std::runtime_error("--svg needs Graphviz's dot program (apt-get install graphviz); without it, "
                             "'graph-runner dot G.yaml' prints the DOT text");
  const std::string temporary = fmt::format("{}.tmp-{}", path, getpid());
  FILE* pipe = popen(fmt::format("dot -Tsvg -o '{}'", temporary).c_str(), "w");
  if (!pipe) throw std::runtime_error("cannot run Graphviz's dot");
  std::fwrite(dot_text.data(), 1, dot_text.size(), pipe);
  if (pclose(pipe) != 0 || std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw std::runtime_error("Graphviz's dot could not write " + path);
  }
}

}  // namespace

Command add_validate(CLI::App& app) {
  auto options = std::make_shared<CommonOptions>();
  CLI::App* command = app.add_subcommand("validate", "check a graph file, infer shapes, print a table of nodes");
  add_common_options(*command, *options);
  return {command, [options] {
            Session session = open_session(*options);
            print_validation_table(*session.model);
            fmt::print("{}: valid\n", options->graph);
            return 0;
          }};
}

Command add_dot(CLI::App& app) {
  auto options = std::make_shared<CommonOptions>();
  auto svg = std::make_shared<std::string>();
  CLI::App* command = app.add_subcommand("dot", "print the graph in Graphviz DOT, or render it to SVG");
  add_common_options(*command, *options);
  command->add_option("--svg", *svg, "write an SVG drawing instead (needs Graphviz)");
  return {command, [options, svg] {
            Session session = open_session(*options);
            const std::string dot = format_dot(*session.model);
            if (svg->empty()) {
              fmt::print("{}", dot);
            } else {
              render_svg(dot, *svg);
              fmt::print("wrote {}\n", *svg);
            }
            return 0;
          }};
}

Command add_ops(CLI::App& app) {
  CLI::App* command = app.add_subcommand("ops", "list every operator with its attributes");
  add_plugin_option(*command);
  return {command, [] {
            load_requested_plugins();
            for (const OpEntry* entry : default_registry().entries()) {
              const OpSchema& s = entry->schema;
              const std::string arity = s.max_inputs < 0 ? fmt::format("{}+", s.min_inputs)
                                        : s.min_inputs == s.max_inputs ? std::to_string(s.min_inputs)
                                                                       : fmt::format("{}-{}", s.min_inputs, s.max_inputs);
              fmt::print("{:<16} {:<9} inputs {:<4} {}  [{}]\n", s.name, to_string(s.kind), arity, s.summary, entry->origin);
              for (const AttrSpec& a : s.attributes)
                fmt::print("    {:<16} {:<17} {:<14} {}\n", a.name, to_string(a.type),
                           a.required()               ? "required"
                           : a.default_text.empty() ? "= " + to_string(*a.default_value)
                                                    : "= " + a.default_text,
                           a.help);
            }
            return 0;
          }};
}

Command add_gradcheck(CLI::App& app) {
  struct Options : CommonOptions {
    GradcheckOptions check;
  };
  auto options = std::make_shared<Options>();
  CLI::App* command =
      app.add_subcommand("gradcheck", "compare analytic parameter gradients with central finite differences");
  add_common_options(*command, *options);
  command->add_option("--epsilon", options->check.epsilon, "finite-difference step")->capture_default_str();
  command->add_option("--atol", options->check.atol, "absolute tolerance")->capture_default_str();
  command->add_option("--rtol", options->check.rtol, "relative tolerance")->capture_default_str();
  command->add_option("--elements", options->check.max_elements_per_tensor, "elements checked per parameter")
      ->capture_default_str();
  command->add_option("--directions", options->check.directions,
                      "random directions checked per parameter (every element moved at once)")
      ->capture_default_str();
  return {command, [options] {
            Session session = open_session(*options);
            Model& model = *session.model;
            const Dataset& data = session.data.train;
            if (data.empty()) throw std::invalid_argument("gradcheck needs training data in the graph file");
            model.init_parameters(model.spec().seed);
            const int64_t batch = batch_size_for(model.spec().train.batch_size, data.size);
            std::vector<int64_t> first(static_cast<size_t>(batch));
            for (int64_t i = 0; i < batch; ++i) first[static_cast<size_t>(i)] = i;
            model.load_batch(data, first);
            const GradcheckReport report = gradcheck(model, options->check);
            int64_t failures = 0, directions = 0;
            for (const GradcheckEntry& e : report.entries) {
              if (e.direction >= 0) ++directions;
              if (e.ok) continue;
              ++failures;
              const std::string where = e.direction >= 0 ? fmt::format(" along random direction {}", e.direction)
                                                          : fmt::format("[{}]", e.index);
              fmt::print("MISMATCH {}{}: analytic {:.6g}, numeric {:.6g}\n", e.tensor, where, e.analytic, e.numeric);
            }
            fmt::print("gradcheck: {} elements and {} random directions checked, {} mismatched, "
                       "max |analytic - numeric| = {:.3g}\n",
                       static_cast<int64_t>(report.entries.size()) - directions, directions, failures,
                       report.max_abs_error);
            return failures == 0 ? 0 : 1;
          }};
}

}  // namespace gradflow::runner
