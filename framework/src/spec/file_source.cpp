// File data sources: {csv: FILE, columns, header, delimiter} or {idx: FILE}, both optionally
// gzipped, then optional `scale` and `normalize: {mean, std}` (docs/graph-format.md).
#include "spec/file_source.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

#include "gradflow/csv_idx_readers.hpp"
#include "spec/yaml_util.hpp"

namespace gradflow {

namespace {

const std::vector<std::string> kSourceKeys = {"csv", "idx", "columns", "header", "delimiter", "scale", "normalize"};

// More columns than any table has; it also bounds what a range may expand to (a fuzzed
// "92:8547758070" took minutes and gigabytes to expand).
constexpr int64_t kMaxColumns = int64_t{1} << 24;

// The whole of `text` as an integer: "92plugins" is not 92.
bool parse_whole(std::string_view text, int64_t& value) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc{} && end == text.data() + text.size();
}

// "0:64" (half-open, like Python, at most kMaxColumns) or a list of column indices.
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
  if (!parse_whole(std::string_view(text).substr(0, colon), begin) ||
      !parse_whole(std::string_view(text).substr(colon + 1), end) || begin < 0 || end <= begin ||
      end - begin > kMaxColumns)
    return std::nullopt;
  for (int64_t c = begin; c < end; ++c) columns.push_back(c);
  return columns;
}

// What a source does to each value: `scale`, then `normalize: {mean, std}`. Both act on one
// value at a time, which is what lets a byte file stay bytes: the map is applied once to each
// of the 256 byte values, into the column's table, and the table gives exactly the floats the
// float path computes (same expression, same float operations, no FMA contraction).
struct ValueMap {
  float scale = 1.0f, mean = 0.0f, stddev = 1.0f;

  float operator()(float v) const { return (v * scale - mean) / stddev; }

  ByteTable byte_table() const {
    ByteTable table;
    for (size_t b = 0; b < table.size(); ++b) table[b] = (*this)(static_cast<float>(b));
    return table;
  }
};

// An IDX file of unsigned bytes, its values still bytes (the header cut off in place).
struct UbyteIdx {
  std::string values;
  Shape shape;
};

// `file` as a ubyte IDX whose size matches its header, or nothing: any other file goes through
// read_idx, which decodes it or rejects it with its own exact message.
std::optional<UbyteIdx> as_ubyte_idx(std::string file) {
  const auto* b = reinterpret_cast<const unsigned char*>(file.data());
  if (file.size() < 4 || b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] == 0) return std::nullopt;
  const size_t rank = b[3];
  const size_t header_bytes = 4 + 4 * rank;
  if (file.size() < header_bytes) return std::nullopt;
  Shape shape;
  uint64_t values = 1;
  for (size_t i = 0; i < rank; ++i) {
    const unsigned char* d = b + 4 + 4 * i;
    const uint64_t extent = uint64_t{d[0]} << 24 | uint64_t{d[1]} << 16 | uint64_t{d[2]} << 8 | d[3];
    if (__builtin_mul_overflow(values, extent, &values)) return std::nullopt;
    shape.push_back(static_cast<int64_t>(extent));
  }
  if (values != file.size() - header_bytes) return std::nullopt;
  file.erase(0, header_bytes);  // in place: no second copy of a 47 MB image file
  return UbyteIdx{std::move(file), std::move(shape)};
}

// Values per sample of an [N, ...] shape; 0 when there are no samples.
int64_t per_sample(const Shape& shape) {
  const int64_t samples = shape.empty() ? 0 : shape[0];
  return samples == 0 ? 0 : numel(shape) / samples;
}

// A file's values before `scale` and `normalize`: bytes for a ubyte IDX of more than one value
// per sample (images: a quarter of the memory of floats), floats for everything else. Labels
// (one value per sample) stay floats: at 4 bytes a sample they cost next to nothing.
struct RawColumn {
  std::optional<UbyteIdx> bytes;
  Tensor floats;

  const Shape& shape() const { return bytes ? bytes->shape : floats.shape(); }
};

RawColumn read_idx_column(const std::filesystem::path& path) {
  std::optional<UbyteIdx> bytes = as_ubyte_idx(read_maybe_gzipped(path));
  if (bytes && per_sample(bytes->shape) > 1) return {std::move(bytes), {}};
  return {std::nullopt, read_idx(path)};  // reads the file again, but only for labels and non-byte files
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
    const UnknownKeyMessage unknown{fmt::format("data for input '{}': ", input_), "key", " in a file source"};
    bool ok = check_known_keys(mapping_, kSourceKeys, unknown, file_, diagnostics_);
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
      if (!columns) return error(c, fmt::format("'columns' must be a range like \"0:64\" (at most {} columns) or a list of column numbers",
                                        kMaxColumns)), std::nullopt;
      options.columns = *columns;
    }
    return options;
  }

  // `scale` and then `normalize: {mean, std}`, or nothing when either is malformed.
  std::optional<ValueMap> value_map() {
    ValueMap map;
    if (const YAML::Node s = mapping_["scale"]) {
      auto v = scalar_as<double>(s);
      if (!v) return error(s, "'scale' must be a number"), std::nullopt;
      map.scale = static_cast<float>(*v);
    }
    if (const YAML::Node n = mapping_["normalize"]) {
      auto m = n.IsMap() ? scalar_as<double>(n["mean"]) : std::nullopt;
      auto sd = n.IsMap() ? scalar_as<double>(n["std"]) : std::nullopt;
      if (!m || !sd || *sd <= 0.0) return error(n, "'normalize' must be {mean: M, std: S} with S > 0"), std::nullopt;
      map.mean = static_cast<float>(*m);
      map.stddev = static_cast<float>(*sd);
    }
    return map;
  }

 private:
  const YAML::Node& mapping_;
  const std::string& file_;
  const std::string& input_;
  Diagnostics& diagnostics_;
};

// " (looked for /abs/d.csv: a relative path starts at the graph file's folder)" for a file that is not
// there, so that a path resolved somewhere unexpected shows where; else "".
std::string where_looked(const std::filesystem::path& path, const std::string& written) {
  std::error_code ignored;
  if (std::filesystem::exists(path, ignored)) return "";
  const std::filesystem::path resolved = std::filesystem::absolute(path, ignored).lexically_normal();
  if (std::filesystem::path(written).is_absolute()) return "";
  return fmt::format(" (looked for {}: a relative path starts at the graph file's folder)", resolved.string());
}

}  // namespace

std::optional<Column> read_file_source(const YAML::Node& mapping, const std::string& file,
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

  RawColumn raw;
  try {
    if (is_csv) {
      auto options = source.csv_options();
      if (!options) return std::nullopt;
      raw.floats = read_csv(path, *options);
      if (origin) *origin = ColumnOrigin{path.string(), "row", options->header ? 2 : 1, {}, locate(file, path_node)};
    } else {
      raw = read_idx_column(path);
      if (origin) *origin = ColumnOrigin{path.string(), "item", 0, {}, locate(file, path_node)};
    }
  } catch (const DataFileError& e) {
    return source.error(path_node, e.what() + where_looked(path, *relative)), std::nullopt;
  }
  const int64_t samples = raw.shape().empty() ? 0 : raw.shape()[0];
  const int64_t values_per_sample = per_sample(raw.shape());
  if (values_per_sample != numel(sample_shape)) {
    source.error(path_node, fmt::format("{} has {} value{} per sample, but the input has shape {} ({} values)",
                                        path.string(), values_per_sample, values_per_sample == 1 ? "" : "s",
                                        to_string(sample_shape), numel(sample_shape)));
    return std::nullopt;
  }
  const std::optional<ValueMap> map = source.value_map();
  if (!map) return std::nullopt;
  if (raw.bytes) return Column::from_bytes(std::move(raw.bytes->values), batched(samples, sample_shape), map->byte_table());
  for (float& v : raw.floats.values()) v = (*map)(v);
  raw.floats.resize(batched(samples, sample_shape));  // same element count: a reshape
  return Column(std::move(raw.floats));
}

}  // namespace gradflow
