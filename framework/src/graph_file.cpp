// Parses a graph file (../shared/graph-format.md sections 1 and 2) into a GraphSpec.
// Every check records a diagnostic and carries on, so one run reports all it can find.
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "data_sources.hpp"
#include "gradflow/graph_spec.hpp"
#include "yaml_util.hpp"

namespace gradflow {

const InputSpec* GraphSpec::find_input(const std::string& input_name) const {
  for (const InputSpec& input : inputs)
    if (input.name == input_name) return &input;
  return nullptr;
}

namespace {

const std::vector<std::string> kTopLevelKeys = {"graph", "seed", "plugins", "inputs", "nodes",
                                                "data",  "train", "outputs"};
const std::vector<std::string> kTrainKeys = {"epochs", "batch_size", "shuffle", "checkpoint_every"};
const std::vector<std::string> kReservedNodeKeys = {"name", "op", "inputs", "params"};

std::string did_you_mean(const std::string& name, const std::vector<std::string>& known) {
  const std::string close = closest_name(name, known);
  return close.empty() ? "" : fmt::format("did you mean '{}'? ", close);
}

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

  GraphSpec parse(const std::string& text) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::ParserException& e) {
      diagnostics_.error({file_, e.mark.line + 1, e.mark.column + 1},
                         "malformed YAML: " + e.msg);
      return std::move(spec_);
    }
    if (!root.IsMap()) {
      error(root, "a graph file is a mapping with keys " + fmt::format("{}", fmt::join(kTopLevelKeys, ", ")) +
                      "; found " + describe(root));
      return std::move(spec_);
    }
    check_keys(root, kTopLevelKeys, "top-level key");
    parse_header(root);
    parse_plugins(root["plugins"]);
    parse_inputs(root["inputs"], root);
    parse_nodes(root["nodes"], root);
    parse_train(root["train"]);
    parse_outputs(root["outputs"]);
    parse_data(root["data"]);
    return std::move(spec_);
  }

 private:
  void error(const YAML::Node& node, std::string message) {
    diagnostics_.error(locate(file_, node), std::move(message));
  }

  void check_keys(const YAML::Node& map, const std::vector<std::string>& known,
                  const std::string& what) {
    for (const auto& item : map) {
      const std::string key = item.first.as<std::string>();
      if (std::find(known.begin(), known.end(), key) == known.end())
        error(item.first, fmt::format("unknown {} '{}' ({}expected one of: {})", what, key,
                                      did_you_mean(key, known), fmt::join(known, ", ")));
    }
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
    const OpSchema& schema = op.schema;
    std::vector<std::string> known;
    for (const AttrSpec& attr : schema.attributes) known.push_back(attr.name);
    if (schema.kind == OpKind::Optimizer) parse_params(entry, label, node);
    else if (entry["params"]) error(entry["params"], fmt::format("{}: 'params' is only for optimizer nodes", label));

    for (const auto& item : entry) {
      const std::string key = item.first.as<std::string>();
      if (std::find(kReservedNodeKeys.begin(), kReservedNodeKeys.end(), key) != kReservedNodeKeys.end()) continue;
      if (std::find(known.begin(), known.end(), key) == known.end())
        error(item.first, fmt::format("{}: unknown attribute '{}' for op '{}' ({}{})", label, key, schema.name,
                                      did_you_mean(key, known),
                                      known.empty() ? std::string("it takes no attributes")
                                                    : fmt::format("known: {}", fmt::join(known, ", "))));
    }
    for (const AttrSpec& attr : schema.attributes) {
      const YAML::Node value = entry[attr.name];
      if (!value) {
        if (attr.required())
          error(entry, fmt::format("{}: op '{}' needs attribute '{}' ({})", label, schema.name, attr.name,
                                   to_string(attr.type)));
        else
          node.attributes.set(attr.name, *attr.default_value);
        continue;
      }
      if (auto parsed = parse_attribute(value, attr, label, schema.name)) node.attributes.set(attr.name, *parsed);
    }
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

  std::optional<AttrValue> parse_attribute(const YAML::Node& value, const AttrSpec& attr,
                                           const std::string& label, const std::string& op) {
    auto fail = [&](const std::string& why) {
      error(value, fmt::format("{}: attribute '{}' of op '{}' {}, got {}", label, attr.name, op, why, describe(value)));
      return std::optional<AttrValue>{};
    };
    switch (attr.type) {
      case AttrType::Int: {
        auto v = scalar_as<int64_t>(value);
        if (!v) return fail("must be an integer");
        if (!in_range(static_cast<double>(*v), attr)) return fail(range_text(attr));
        return AttrValue{*v};
      }
      case AttrType::Float: {
        auto v = scalar_as<double>(value);
        if (!v || !std::isfinite(*v)) return fail("must be a number");
        if (!in_range(*v, attr)) return fail(range_text(attr));
        return AttrValue{*v};
      }
      case AttrType::Bool: {
        auto v = scalar_as<bool>(value);
        if (!v) return fail("must be true or false");
        return AttrValue{*v};
      }
      case AttrType::String: {
        auto v = scalar_as<std::string>(value);
        if (!v) return fail("must be a string");
        if (!attr.choices.empty() && std::find(attr.choices.begin(), attr.choices.end(), *v) == attr.choices.end())
          return fail(fmt::format("must be one of {}", fmt::join(attr.choices, ", ")));
        return AttrValue{*v};
      }
      case AttrType::StringList: {
        if (!value.IsSequence()) return fail("must be a list of names");
        std::vector<std::string> names;
        for (const YAML::Node& item : value) {
          auto v = scalar_as<std::string>(item);
          if (!v) return fail("must be a list of names");
          names.push_back(*v);
        }
        return AttrValue{names};
      }
    }
    return std::nullopt;
  }

  static bool in_range(double v, const AttrSpec& attr) {
    if (!attr.min) return true;
    return attr.min_exclusive ? v > *attr.min : v >= *attr.min;
  }
  static std::string range_text(const AttrSpec& attr) {
    return fmt::format("must be {} {}", attr.min_exclusive ? ">" : ">=", *attr.min);
  }

  void parse_train(const YAML::Node& train) {
    if (!train) return;
    if (!train.IsMap()) {
      error(train, "'train' must be a mapping with epochs, batch_size, shuffle");
      return;
    }
    check_keys(train, kTrainKeys, "key in 'train'");
    auto positive = [&](const char* key, int64_t& target, int64_t min) {
      if (const YAML::Node v = train[key]) {
        auto value = scalar_as<int64_t>(v);
        if (!value || *value < min)
          error(v, fmt::format("train.{} must be an integer >= {}, got {}", key, min, describe(v)));
        else
          target = *value;
      }
    };
    positive("epochs", spec_.train.epochs, 0);
    positive("batch_size", spec_.train.batch_size, 1);
    int64_t every = 0;
    positive("checkpoint_every", every, 1);
    if (every > 0) spec_.train.checkpoint_every = every;
    if (const YAML::Node v = train["shuffle"])
      if (auto value = read<bool>(v, "train.shuffle", "true or false")) spec_.train.shuffle = *value;
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

  void parse_data(const YAML::Node& data) {
    if (!data) return;
    spec_.data_where = locate(file_, data);
    if (!data.IsMap()) {
      error(data, "'data' must be a mapping with 'train' (and optionally 'test', 'split')");
      return;
    }
    check_keys(data, {"train", "test", "split"}, "key in 'data'");
    if (data["train"]) spec_.train_data = parse_split(data["train"], "train");
    if (data["test"]) spec_.test_data = parse_split(data["test"], "test");
    if (const YAML::Node split = data["split"]) apply_split(split, data);
  }

  // `split: 0.3` holds out a seeded 30% of the training data as the test set.
  void apply_split(const YAML::Node& split, const YAML::Node& data) {
    auto fraction = scalar_as<double>(split);
    if (!fraction || *fraction <= 0.0 || *fraction >= 1.0) {
      error(split, "data.split must be a fraction between 0 and 1 (exclusive), got " + describe(split));
      return;
    }
    if (data["test"]) {
      error(split, "data.split and data.test exclude each other: the test set would be given twice");
      return;
    }
    const int64_t n = spec_.train_data.size;
    if (n < 2) return;
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
    Rng rng = Rng::derive(spec_.seed, "data.split");
    for (int64_t i = n - 1; i > 0; --i)
      std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(rng.below(static_cast<uint64_t>(i + 1)))]);
    const auto test_count = std::clamp<int64_t>(static_cast<int64_t>(std::llround(*fraction * static_cast<double>(n))), 1, n - 1);
    std::span<const int64_t> all(order);
    spec_.test_data = spec_.train_data.select(all.first(static_cast<size_t>(test_count)));
    spec_.train_data = spec_.train_data.select(all.subspan(static_cast<size_t>(test_count)));
  }

  Dataset parse_split(const YAML::Node& split, const std::string& split_name) {
    Dataset dataset;
    if (!split.IsMap()) {
      error(split, fmt::format("data.{} must map each graph input to its samples", split_name));
      return dataset;
    }
    const YAML::Node* first = nullptr;
    std::string first_name;
    std::set<std::string> mentioned;
    for (const auto& item : split) {
      const std::string input_name = item.first.as<std::string>();
      mentioned.insert(input_name);
      const InputSpec* input = spec_.find_input(input_name);
      if (!input) {
        error(item.first, fmt::format("data.{}.{}: '{}' is not a graph input", split_name, input_name, input_name));
        continue;
      }
      ColumnOrigin origin;
      std::optional<Column> column =
          item.second.IsMap()
              ? read_file_source(item.second, file_, base_dir_, input_name, input->shape, diagnostics_, &origin)
              : parse_inline(item.second, split_name, *input);
      if (column && !origin.file.empty()) dataset.origins[input_name] = std::move(origin);
      if (!column) continue;
      const int64_t count = column->rows();
      if (!first) {
        first = &item.first;
        first_name = input_name;
        dataset.size = count;
      } else if (count != dataset.size) {
        error(item.first, fmt::format("data.{}.{} has {} samples but data.{}.{} has {}; every input needs one sample per example",
                                      split_name, input_name, count, split_name, first_name, dataset.size));
      }
      dataset.columns[input_name] = std::move(*column);
    }
    for (const InputSpec& input : spec_.inputs)
      if (!mentioned.count(input.name))
        error(split, fmt::format("data.{} has no samples for input '{}'", split_name, input.name));
    return dataset;
  }

  // Inline samples: a list with one entry per sample, each a (nested) list matching the
  // input's shape, or a bare number when the shape holds one value.
  std::optional<Tensor> parse_inline(const YAML::Node& samples, const std::string& split_name,
                                     const InputSpec& input) {
    const std::string where = fmt::format("data.{}.{}", split_name, input.name);
    if (!samples.IsSequence() || samples.size() == 0) {
      error(samples, fmt::format("{} must be a non-empty list of samples or a file source mapping like {{csv: FILE}}", where));
      return std::nullopt;
    }
    const int64_t per_sample = numel(input.shape);
    // Not reserved from the declared shape: a fuzzed [5000, 100000] made that 5 GB for 16
    // written samples. Inline data is small; the vector grows with what the file holds.
    std::vector<float> values;
    bool ok = true;
    for (size_t i = 0; i < samples.size(); ++i) {
      const size_t before = values.size();
      if (!flatten(samples[i], values)) {
        ok = false;
        continue;
      }
      const auto got = static_cast<int64_t>(values.size() - before);
      if (got != per_sample) {
        error(samples[i], fmt::format("{}: sample {} has {} value{}, expected {} (input '{}' has shape {})", where, i + 1,
                                      got, got == 1 ? "" : "s", per_sample, input.name, to_string(input.shape)));
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return Tensor(batched(static_cast<int64_t>(samples.size()), input.shape), values);
  }

  bool flatten(const YAML::Node& node, std::vector<float>& values) {
    if (node.IsSequence()) {
      for (const YAML::Node& item : node)
        if (!flatten(item, values)) return false;
      return true;
    }
    auto v = scalar_as<double>(node);
    if (!v) {
      error(node, "a sample value must be a number, got " + describe(node));
      return false;
    }
    values.push_back(static_cast<float>(*v));
    return true;
  }

  std::string file_;
  std::filesystem::path base_dir_;
  const Registry& registry_;
  Diagnostics& diagnostics_;
  const ParseOptions& options_;
  GraphSpec spec_;
};

}  // namespace

GraphSpec parse_graph_text(const std::string& text, const std::filesystem::path& file,
                           const Registry& registry, Diagnostics& diagnostics,
                           const ParseOptions& options) {
  return GraphFileParser(file, registry, diagnostics, options).parse(text);
}

GraphSpec parse_graph_file(const std::filesystem::path& file, const Registry& registry,
                           Diagnostics& diagnostics, const ParseOptions& options) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    diagnostics.error({file.string(), 0, 0}, "cannot open the graph file: " + std::string(std::strerror(errno)));
    return GraphSpec{};
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse_graph_text(text.str(), file, registry, diagnostics, options);
}

}  // namespace gradflow
