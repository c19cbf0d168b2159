// Parses a graph file (docs/graph-format.md) into a GraphSpec; its `data:` section goes to its
// own reader. Every check records a diagnostic and carries on, so one run reports all it can find.
#include "gradflow/graph_file.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "spec/attribute_parser.hpp"
#include "spec/data_section.hpp"
#include "spec/train_section.hpp"
#include "spec/yaml_util.hpp"

namespace gradflow {

namespace {

const std::vector<std::string> kTopLevelKeys = {"graph", "seed",  "plugins", "inputs", "nodes",
                                                "data",  "train", "outputs", "labels"};
const std::vector<std::string> kReservedNodeKeys = {"name", "op", "inputs", "params"};

class GraphFileParser {
 public:
  GraphFileParser(std::filesystem::path file, const Registry& registry, Diagnostics& diagnostics,
                  const ParseOptions& options)
      : file_(file.string()),
        base_dir_(file.parent_path()),
        registry_(registry),
        diagnostics_(diagnostics),
        options_(options) {
    spec_.file = std::move(file);
  }

  GraphFile parse(const std::string& text) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::ParserException& e) {
      report_malformed(text, e);
      return {std::move(spec_), {}};
    }
    if (root.IsNull() && root.Mark().line < 0) {  // nothing but blanks and comments: no line to point at
      diagnostics_.error({file_, 1, 1}, "the graph file is empty: a graph file is a mapping with keys " +
                                            fmt::format("{}", fmt::join(kTopLevelKeys, ", ")));
      return {std::move(spec_), {}};
    }
    if (!root.IsMap()) {
      error(root, "a graph file is a mapping with keys " + fmt::format("{}", fmt::join(kTopLevelKeys, ", ")) +
                      "; found " + describe(root));
      return {std::move(spec_), {}};
    }
    check_keys(root, kTopLevelKeys, "top-level key");
    parse_header(root);
    parse_plugins(root["plugins"]);
    parse_inputs(root["inputs"], root);
    parse_nodes(root["nodes"], root);
    spec_.train = read_train_section(root["train"], file_, diagnostics_);
    parse_outputs(root["outputs"]);
    parse_labels(root["labels"]);
    GraphFile result{std::move(spec_), {}};
    if (!options_.read_data) return result;  // deploying: the data may be absent
    // The data section has its own reader (spec/data_section.cpp): the parser only hands it over.
    if (const YAML::Node data = root["data"])
      result.data = read_data_section(data, result.graph, file_, base_dir_, diagnostics_);
    const YAML::Node data = root["data"];
    check_validation_needed(result.graph.train, data && data.IsMap() && (data["validation"] || data["validation_split"]),
                            diagnostics_);
    return result;
  }

 private:
  // A tab in a line's indentation is the usual cause of yaml-cpp's "illegal map value": said so, at the tab.
  void report_malformed(const std::string& text, const YAML::ParserException& e) {
    const int line = e.mark.line + 1, column = e.mark.column + 1;
    if (const std::optional<SourceLocation> tab = indentation_tab(text, line)) {
      diagnostics_.error(*tab, fmt::format("malformed YAML: a tab indents this line, and YAML indents with spaces only "
                                           "(the parser stopped at line {}, column {}: {})",
                                           line, column, e.msg));
      return;
    }
    diagnostics_.error({file_, line, column}, "malformed YAML: " + e.msg);
  }

  // The first tab in the indentation of lines 1 to `last` (all lines when `last` < 1).
  std::optional<SourceLocation> indentation_tab(const std::string& text, int last) const {
    std::istringstream lines(text);
    std::string content;
    for (int line = 1; std::getline(lines, content) && (last < 1 || line <= last); ++line) {
      const size_t indent = content.find_first_not_of(" \t");
      const size_t tab = content.find('\t');
      if (indent != std::string::npos && tab < indent) return SourceLocation{file_, line, static_cast<int>(tab) + 1};
    }
    return std::nullopt;
  }

  void error(const YAML::Node& node, std::string message) {
    diagnostics_.error(locate(file_, node), std::move(message));
  }

  void check_keys(const YAML::Node& map, const std::vector<std::string>& known,
                  const std::string& what) {
    check_known_keys(map, known, what, file_, diagnostics_);
  }

  template <class T>
  std::optional<T> read(const YAML::Node& node, const std::string& what, const char* expected) {
    auto value = scalar_as<T>(node);
    if (!value) error(node, fmt::format("{} must be {}, got {}", what, expected, describe(node)));
    return value;
  }

  void parse_header(const YAML::Node& root) {
    if (const YAML::Node name = root["graph"]) {
      if (auto value = read<std::string>(name, "'graph'", "a name")) spec_.name = *value;
    } else {
      spec_.name = spec_.file.stem().string();
    }
    if (const YAML::Node seed = root["seed"])
      if (auto value = read<uint64_t>(seed, "'seed'", "a non-negative integer")) spec_.seed = *value;
    if (options_.seed) spec_.seed = *options_.seed;
  }

  void parse_plugins(const YAML::Node& plugins) {
    if (!plugins) return;
    if (!plugins.IsSequence()) {
      error(plugins, "'plugins' must be a list of shared-library paths, got " + describe(plugins));
      return;
    }
    for (const YAML::Node& entry : plugins) {
      auto path = read<std::string>(entry, "a plugin", "a path");
      if (!path) continue;
      std::filesystem::path resolved = base_dir_ / *path;
      spec_.plugins.push_back(resolved);
      if (options_.load_plugin) options_.load_plugin(resolved, locate(file_, entry), diagnostics_);
    }
  }

  std::optional<Shape> parse_shape(const YAML::Node& node, const std::string& what) {
    if (!node.IsSequence()) {
      error(node, fmt::format("{} must be a list of positive sizes like [2], got {}", what, describe(node)));
      return std::nullopt;
    }
    Shape shape;
    for (const YAML::Node& dim : node) {
      auto size = scalar_as<int64_t>(dim);
      if (!size || *size <= 0) {
        error(dim, fmt::format("{} must hold positive sizes, got {}", what, describe(dim)));
        return std::nullopt;
      }
      shape.push_back(*size);
    }
    return shape;
  }

  void parse_inputs(const YAML::Node& inputs, const YAML::Node& root) {
    if (!inputs || !inputs.IsMap() || inputs.size() == 0) {
      error(inputs ? inputs : root,
            "'inputs' must map each input name to {shape: [...]}, e.g. 'x: {shape: [2]}'");
      return;
    }
    for (const auto& item : inputs) {
      InputSpec input{item.first.as<std::string>(), {}, locate(file_, item.first)};
      const YAML::Node& body = item.second;
      if (!body.IsMap() || !body["shape"]) {
        error(body, fmt::format("input '{}' must be a mapping with a 'shape', e.g. {{shape: [2]}}", input.name));
        continue;
      }
      check_keys(body, {"shape"}, fmt::format("key of input '{}'", input.name));
      if (auto shape = parse_shape(body["shape"], fmt::format("the shape of input '{}'", input.name))) {
        input.shape = *shape;
        spec_.inputs.push_back(std::move(input));
      }
    }
  }

  void parse_nodes(const YAML::Node& nodes, const YAML::Node& root) {
    if (!nodes || !nodes.IsSequence() || nodes.size() == 0) {
      error(nodes ? nodes : root, "'nodes' must be a non-empty list of {name, op, inputs, ...}");
      return;
    }
    for (const YAML::Node& entry : nodes) parse_node(entry);
  }

  void parse_node(const YAML::Node& entry) {
    if (!entry.IsMap()) {
      error(entry, "a node must be a mapping with 'name', 'op' and 'inputs', got " + describe(entry));
      return;
    }
    NodeSpec node;
    node.where = locate(file_, entry);
    bool ok = true;
    if (auto name = entry["name"] ? read<std::string>(entry["name"], "a node's 'name'", "a string")
                                  : std::nullopt) {
      node.name = *name;
    } else {
      if (!entry["name"]) error(entry, "a node needs a 'name'");
      ok = false;
    }
    const std::string label = node.name.empty() ? "a node" : fmt::format("node '{}'", node.name);
    const OpEntry* op = nullptr;
    if (!entry["op"]) {
      error(entry, label + " needs an 'op'");
      ok = false;
    } else if (auto op_name = read<std::string>(entry["op"], label + ": 'op'", "an operator name")) {
      node.op = *op_name;
      op = registry_.find(node.op);
      if (!op) {
        const auto known = registry_.names();
        error(entry["op"], fmt::format("{}: unknown op '{}' ({}known ops: {})", label, node.op,
                                       did_you_mean(node.op, known), fmt::join(known, ", ")));
        ok = false;
      }
    } else {
      ok = false;
    }
    parse_node_inputs(entry, label, node, op);
    if (op) parse_attributes(entry, label, *op, node);
    if (ok) spec_.nodes.push_back(std::move(node));
  }

  void parse_node_inputs(const YAML::Node& entry, const std::string& label, NodeSpec& node,
                         const OpEntry* op) {
    const YAML::Node inputs = entry["inputs"];
    if (!inputs) {
      if (op && op->schema.max_inputs == 0) return;  // an op without inputs (parameter) may omit them
      error(entry, label + " needs 'inputs', a list of input or node names");
      return;
    }
    if (!inputs.IsSequence()) {
      error(inputs, fmt::format("{}: 'inputs' must be a list of names, got {}", label, describe(inputs)));
      return;
    }
    for (const YAML::Node& input : inputs) {
      if (auto name = read<std::string>(input, label + ": an input", "a name")) {
        node.inputs.push_back(*name);
        node.input_where.push_back(locate(file_, input));
      }
    }
    if (!op) return;
    const OpSchema& schema = op->schema;
    const int count = static_cast<int>(node.inputs.size());
    if (count < schema.min_inputs || (schema.max_inputs >= 0 && count > schema.max_inputs)) {
      const std::string expected =
          schema.max_inputs < 0 ? fmt::format("at least {}", schema.min_inputs)
          : schema.min_inputs == schema.max_inputs ? fmt::format("exactly {}", schema.min_inputs)
                                                   : fmt::format("{} to {}", schema.min_inputs, schema.max_inputs);
      error(inputs, fmt::format("{}: op '{}' takes {} input{}, got {}", label, schema.name, expected,
                                schema.max_inputs == 1 ? "" : "s", count));
    }
  }

  void parse_attributes(const YAML::Node& entry, const std::string& label, const OpEntry& op,
                        NodeSpec& node) {
    if (op.schema.kind == OpKind::Optimizer) parse_params(entry, label, node);
    else if (entry["params"]) error(entry["params"], fmt::format("{}: 'params' is only for optimizer nodes", label));
    node.attributes = read_attributes(entry, label, op.schema, kReservedNodeKeys, file_, diagnostics_);
  }

  void parse_params(const YAML::Node& entry, const std::string& label, NodeSpec& node) {
    const YAML::Node params = entry["params"];
    if (!params) return;
    if (!params.IsSequence()) {
      error(params, fmt::format("{}: 'params' must be a list of node names, got {}", label, describe(params)));
      return;
    }
    for (const YAML::Node& p : params)
      if (auto name = read<std::string>(p, label + ": a 'params' entry", "a node name")) node.params.push_back(*name);
  }

  void parse_outputs(const YAML::Node& outputs) {
    if (!outputs) return;
    if (!outputs.IsSequence()) {
      error(outputs, "'outputs' must be a list of node names, got " + describe(outputs));
      return;
    }
    std::set<std::string> names;
    for (const NodeSpec& n : spec_.nodes) names.insert(n.name);
    for (const InputSpec& i : spec_.inputs) names.insert(i.name);
    for (const YAML::Node& output : outputs) {
      auto name = read<std::string>(output, "an output", "a node name");
      if (!name) continue;
      if (!names.count(*name))
        error(output, fmt::format("output '{}' is not a node or input of the graph", *name));
      spec_.outputs.push_back(*name);
    }
  }

  // Class names; that their count is the classifier's is checked once shapes are known (load_graph).
  void parse_labels(const YAML::Node& labels) {
    if (!labels) return;
    spec_.labels_where = locate(file_, labels);
    if (!labels.IsSequence() || labels.size() == 0) {
      error(labels, "'labels' must be a list of class names, one per class, got " +
                        (labels.IsSequence() ? std::string("an empty list") : describe(labels)));
      return;
    }
    for (const YAML::Node& entry : labels) {
      const auto name = scalar_as<std::string>(entry);
      if (!name || name->empty()) {
        error(entry, "a label must be a non-empty string, got " + describe(entry));
        continue;
      }
      const auto same = std::find(spec_.labels.begin(), spec_.labels.end(), *name);
      if (same != spec_.labels.end())
        error(entry, fmt::format("label '{}' is already the name of class {}: labels must be unique", *name,
                                 same - spec_.labels.begin()));
      spec_.labels.push_back(*name);
    }
  }

  std::string file_;
  std::filesystem::path base_dir_;
  const Registry& registry_;
  Diagnostics& diagnostics_;
  const ParseOptions& options_;
  GraphSpec spec_;
};

}  // namespace

GraphFile parse_graph_text(const std::string& text, const std::filesystem::path& file,
                           const Registry& registry, Diagnostics& diagnostics,
                           const ParseOptions& options) {
  return GraphFileParser(file, registry, diagnostics, options).parse(text);
}

GraphFile parse_graph_file(const std::filesystem::path& file, const Registry& registry,
                           Diagnostics& diagnostics, const ParseOptions& options) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    diagnostics.error({file.string(), 0, 0}, "cannot open the graph file: " + std::string(std::strerror(errno)));
    return GraphFile{};
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse_graph_text(text.str(), file, registry, diagnostics, options);
}

}  // namespace gradflow
