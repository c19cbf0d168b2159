// The `data:` section of a graph file (docs/graph-format.md): `train`, `test` and `validation`,
// each mapping every graph input to inline samples or a file source, and `split` and
// `validation_split`, seeded hold-outs of the training data.
#include "spec/data_section.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "gradflow/rng.hpp"
#include "spec/file_source.hpp"
#include "spec/text_source.hpp"
#include "spec/yaml_util.hpp"

namespace gradflow {

namespace {

class DataSectionReader {
 public:
  DataSectionReader(const GraphSpec& graph, std::string file, std::filesystem::path base_dir, Diagnostics& diagnostics)
      : graph_(graph), file_(std::move(file)), base_dir_(std::move(base_dir)), diagnostics_(diagnostics),
        text_(file_, base_dir_, diagnostics) {}

  DataSets read(const YAML::Node& data) {
    sets_.where = locate(file_, data);
    if (!data.IsMap()) {
      error(data, "'data' must be a mapping with 'train' (and optionally 'test', 'validation', 'split', "
                  "'validation_split')");
      return std::move(sets_);
    }
    check_known_keys(data, {"train", "test", "validation", "split", "validation_split"}, "key in 'data'", file_,
                     diagnostics_);
    if (data["train"]) sets_.train = parse_split(data["train"], "train");
    if (data["test"]) sets_.test = parse_split(data["test"], "test");
    if (data["validation"]) sets_.validation = parse_split(data["validation"], "validation");
    hold_out(data, "split", "test", sets_.test);
    hold_out(data, "validation_split", "validation", sets_.validation);
    return std::move(sets_);
  }

 private:
  void error(const YAML::Node& node, std::string message) {
    diagnostics_.error(locate(file_, node), std::move(message));
  }

  // `split: 0.3` holds out a seeded 30% of the training data as the test set; then
  // `validation_split: 0.1` a seeded 10% of what remains as the validation set (so that adding a
  // validation split leaves the test set as it was). Each from its own stream of the seed.
  void hold_out(const YAML::Node& data, const std::string& key, const std::string& part, Dataset& target) {
    const YAML::Node node = data[key];
    if (!node) return;
    auto fraction = scalar_as<double>(node);
    if (!fraction || *fraction <= 0.0 || *fraction >= 1.0) {
      error(node, fmt::format("data.{} must be a fraction between 0 and 1 (exclusive), got {}", key, describe(node)));
      return;
    }
    if (data[part]) {
      error(node, fmt::format("data.{} and data.{} exclude each other: the {} set would be given twice", key, part, part));
      return;
    }
    const int64_t n = sets_.train.size;
    if (n < 2) return;
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), int64_t{0});
    Rng::derive(graph_.seed, "data." + key).shuffle(order);
    const auto held = std::clamp<int64_t>(static_cast<int64_t>(std::llround(*fraction * static_cast<double>(n))), 1, n - 1);
    std::span<const int64_t> all(order);
    target = sets_.train.select(all.first(static_cast<size_t>(held)));
    sets_.train = sets_.train.select(all.subspan(static_cast<size_t>(held)));
  }

  Dataset parse_split(const YAML::Node& split, const std::string& split_name) {
    Dataset dataset;
    if (!split.IsMap()) {
      error(split, fmt::format("data.{} must map each graph input to its samples", split_name));
      return dataset;
    }
    struct Read {
      YAML::Node key;
      std::string name;
      Column column;
      bool text = false;
    };
    std::vector<Read> read;
    std::set<std::string> mentioned;
    for (const auto& item : split) {
      const std::string input_name = item.first.as<std::string>();
      mentioned.insert(input_name);
      const InputSpec* input = graph_.find_input(input_name);
      if (!input) {
        error(item.first, fmt::format("data.{}.{}: '{}' is not a graph input", split_name, input_name, input_name));
        continue;
      }
      ColumnOrigin origin;
      const bool text = is_text_source(item.second);
      std::optional<Column> column =
          text ? text_.read(item.second, split_name, input_name, input->shape)
          : item.second.IsMap()
              ? read_file_source(item.second, file_, base_dir_, input_name, input->shape, diagnostics_, &origin)
              : parse_inline(item.second, split_name, *input);
      if (column && !origin.file.empty()) dataset.origins[input_name] = std::move(origin);
      if (column) read.push_back({item.first, input_name, std::move(*column), text});
    }
    keep_common_windows(read);
    for (Read& r : read) {
      const int64_t count = r.column.rows();
      if (&r == &read.front()) {
        dataset.size = count;
      } else if (count != dataset.size) {
        error(r.key, fmt::format("data.{}.{} has {} samples but data.{}.{} has {}; every input needs one sample per example",
                                 split_name, r.name, count, split_name, read.front().name, dataset.size));
      }
      dataset.columns[r.name] = std::move(r.column);
    }
    for (const InputSpec& input : graph_.inputs)
      if (!mentioned.count(input.name))
        error(split, fmt::format("data.{} has no samples for input '{}'", split_name, input.name));
    return dataset;
  }

  // Sample k of a split is window k of each of its text inputs: it is kept only when every one
  // of those windows lies inside its part, so x and its `offset: 1` targets give the same count.
  template <class Read>
  static void keep_common_windows(std::vector<Read>& read) {
    int64_t common = -1;
    for (const Read& r : read)
      if (r.text) common = common < 0 ? r.column.rows() : std::min(common, r.column.rows());
    for (Read& r : read)
      if (r.text) r.column.keep_first(common);
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
    const auto value = static_cast<float>(*v);
    if (!std::isfinite(value)) {
      error(node, fmt::format("a sample value must be a finite number, got {}{}", describe(node),
                              std::isfinite(*v) ? " (out of float range)" : ""));
      return false;
    }
    values.push_back(value);
    return true;
  }

  const GraphSpec& graph_;
  std::string file_;
  std::filesystem::path base_dir_;
  Diagnostics& diagnostics_;
  TextSources text_;
  DataSets sets_;
};

}  // namespace

DataSets read_data_section(const YAML::Node& data, const GraphSpec& graph, const std::string& file,
                           const std::filesystem::path& base_dir, Diagnostics& diagnostics) {
  return DataSectionReader(graph, file, base_dir, diagnostics).read(data);
}

}  // namespace gradflow
