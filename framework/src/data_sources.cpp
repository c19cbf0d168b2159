// File data sources: {csv: FILE, columns, header, delimiter} or {idx: FILE}, both optionally
// gzipped, then optional `scale` and `normalize: {mean, std}` (docs/graph-extensions.md).
#include "data_sources.hpp"

#include <fmt/format.h>

#include <charconv>

#include "gradflow/data_files.hpp"
#include "yaml_util.hpp"

namespace gradflow {

namespace {

const std::vector<std::string> kSourceKeys = {"csv", "idx", "columns", "header", "delimiter", "scale", "normalize"};

// "0:64" (half-open, like Python) or a list of column indices.
std::optional<std::vector<int64_t>> parse_columns(const YAML::Node& node) {
  std::vector<int64_t> columns;
  if (node.IsSequence()) {
    for (const YAML::Node& item : node) {
      auto c = scalar_as<int64_t>(item);
      if (!c) return std::nullopt;
      columns.push_back(*c);
    }
    return columns;
  }
  const std::string text = node.IsScalar() ? node.Scalar() : "";
  const auto colon = text.find(':');
  if (colon == std::string::npos) {
    auto single = scalar_as<int64_t>(node);
    if (!single) return std::nullopt;
    return std::vector<int64_t>{*single};
  }
  int64_t begin = 0, end = 0;
  const char* s = text.data();
  if (std::from_chars(s, s + colon, begin).ec != std::errc{} ||
      std::from_chars(s + colon + 1, s + text.size(), end).ec != std::errc{} || begin < 0 || end <= begin)
    return std::nullopt;
  for (int64_t c = begin; c < end; ++c) columns.push_back(c);
  return columns;
}

class SourceReader {
 public:
  SourceReader(const YAML::Node& mapping, const std::string& file, const std::string& input,
               Diagnostics& diagnostics)
      : mapping_(mapping), file_(file), input_(input), diagnostics_(diagnostics) {}

  bool error(const YAML::Node& node, const std::string& message) {
    diagnostics_.error(locate(file_, node), fmt::format("data for input '{}': {}", input_, message));
    return false;
  }

  bool check_keys() {
    bool ok = true;
    for (const auto& item : mapping_) {
      const std::string key = item.first.as<std::string>();
      if (std::find(kSourceKeys.begin(), kSourceKeys.end(), key) == kSourceKeys.end())
        ok = error(item.first, fmt::format("unknown key '{}' in a file source (expected one of: {})", key,
                                           fmt::join(kSourceKeys, ", ")));
    }
    if (static_cast<bool>(mapping_["csv"]) == static_cast<bool>(mapping_["idx"]))
      ok = error(mapping_, "a file source names exactly one of 'csv: FILE' or 'idx: FILE'");
    if (mapping_["idx"] && (mapping_["columns"] || mapping_["header"] || mapping_["delimiter"]))
      ok = error(mapping_, "'columns', 'header' and 'delimiter' apply to CSV sources only");
    return ok;
  }

  std::optional<CsvOptions> csv_options() {
    CsvOptions options;
    if (const YAML::Node h = mapping_["header"]) {
      auto v = scalar_as<bool>(h);
      if (!v) return error(h, "'header' must be true or false"), std::nullopt;
      options.header = *v;
    }
    if (const YAML::Node d = mapping_["delimiter"]) {
      if (!d.IsScalar() || d.Scalar().size() != 1)
        return error(d, "'delimiter' must be a single character"), std::nullopt;
      options.delimiter = d.Scalar()[0];
    }
    if (const YAML::Node c = mapping_["columns"]) {
      auto columns = parse_columns(c);
      if (!columns) return error(c, "'columns' must be a range like \"0:64\" or a list of column numbers"), std::nullopt;
      options.columns = *columns;
    }
    return options;
  }

  // Applies `scale` and then `normalize: {mean, std}` in place.
  bool transform(Tensor& values) {
    float scale = 1.0f, mean = 0.0f, stddev = 1.0f;
    if (const YAML::Node s = mapping_["scale"]) {
      auto v = scalar_as<double>(s);
      if (!v) return error(s, "'scale' must be a number");
      scale = static_cast<float>(*v);
    }
    if (const YAML::Node n = mapping_["normalize"]) {
      auto m = n.IsMap() ? scalar_as<double>(n["mean"]) : std::nullopt;
      auto sd = n.IsMap() ? scalar_as<double>(n["std"]) : std::nullopt;
      if (!m || !sd || *sd <= 0.0) return error(n, "'normalize' must be {mean: M, std: S} with S > 0");
      mean = static_cast<float>(*m);
      stddev = static_cast<float>(*sd);
    }
    for (float& v : values.values()) v = (v * scale - mean) / stddev;
    return true;
  }

 private:
  const YAML::Node& mapping_;
  const std::string& file_;
  const std::string& input_;
  Diagnostics& diagnostics_;
};

}  // namespace

std::optional<Tensor> read_file_source(const YAML::Node& mapping, const std::string& file,
                                       const std::filesystem::path& base_dir,
                                       const std::string& input, const Shape& sample_shape,
                                       Diagnostics& diagnostics, ColumnOrigin* origin) {
  SourceReader source(mapping, file, input, diagnostics);
  if (!source.check_keys()) return std::nullopt;
  const bool is_csv = static_cast<bool>(mapping["csv"]);
  const YAML::Node path_node = is_csv ? mapping["csv"] : mapping["idx"];
  auto relative = scalar_as<std::string>(path_node);
  if (!relative) return source.error(path_node, "the file must be a path"), std::nullopt;
  const std::filesystem::path path = base_dir / *relative;

  Tensor values;
  try {
    if (is_csv) {
      auto options = source.csv_options();
      if (!options) return std::nullopt;
      values = read_csv(path, *options);
      if (origin) *origin = ColumnOrigin{path.string(), "row", options->header ? 2 : 1, {}};
    } else {
      values = read_idx(path);
      if (origin) *origin = ColumnOrigin{path.string(), "item", 0, {}};
    }
  } catch (const DataFileError& e) {
    return source.error(path_node, e.what()), std::nullopt;
  }
  const int64_t samples = values.rank() == 0 ? 0 : values.dim(0);
  const int64_t per_sample = samples == 0 ? 0 : values.size() / samples;
  if (per_sample != numel(sample_shape)) {
    source.error(path_node, fmt::format("{} has {} value{} per sample, but the input has shape {} ({} values)",
                                        path.string(), per_sample, per_sample == 1 ? "" : "s",
                                        to_string(sample_shape), numel(sample_shape)));
    return std::nullopt;
  }
  if (!source.transform(values)) return std::nullopt;
  values.resize(batched(samples, sample_shape));  // same element count: a reshape
  return values;
}

}  // namespace gradflow
