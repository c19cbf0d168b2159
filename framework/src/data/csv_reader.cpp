// Reads numeric CSV files (gzipped or not) into a [rows, columns] tensor: only the selected
// columns are parsed, every failure names the file, the row and the 1-based column.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <string_view>

#include "data_file_support.hpp"

namespace gradflow {

using data_files::non_finite_name;
using data_files::plural;

namespace {

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t");
  return s.substr(first, last - first + 1);
}

struct Line {
  std::string_view text;
  int64_t number;  // 1-based line in the (decompressed) file
};

// Splits into lines, dropping a UTF-8 byte-order mark (Excel writes one), CR of CRLF
// endings and blank lines at the end.
std::vector<Line> split_lines(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  std::vector<Line> lines;
  int64_t number = 1;
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (line.ends_with('\r')) line.remove_suffix(1);
    lines.push_back({line, number++});
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  while (!lines.empty() && trim(lines.back().text).empty()) lines.pop_back();
  return lines;
}

void split_fields(std::string_view line, char delimiter, std::vector<std::string_view>& fields) {
  fields.clear();
  for (;;) {
    const auto end = line.find(delimiter);
    fields.push_back(trim(line.substr(0, end)));
    if (end == std::string_view::npos) return;
    line.remove_prefix(end + 1);
  }
}

enum class ParseStatus { ok, not_a_number, out_of_range, not_finite };

// std::from_chars: locale independent, unlike strtof and streams.
ParseStatus parse_float(std::string_view s, float& value) {
  if (s.size() > 1 && s[0] == '+' && s[1] != '-' && s[1] != '+') s.remove_prefix(1);
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, value);
  if (ec == std::errc::invalid_argument || ptr != end) return ParseStatus::not_a_number;
  if (ec != std::errc::result_out_of_range) return std::isfinite(value) ? ParseStatus::ok : ParseStatus::not_finite;
  // Out of float range: a tiny value (underflow) is still a fine number, it rounds to a
  // subnormal or zero; only magnitudes beyond FLT_MAX are errors.
  double wide = 0;
  auto [wptr, wec] = std::from_chars(s.data(), end, wide);
  if (wec != std::errc{} || wptr != end || std::fabs(wide) > 1.0) return ParseStatus::out_of_range;
  value = static_cast<float>(wide);
  return ParseStatus::ok;
}

// "; it holds ';': set `delimiter: ';'` in the source if that separates its fields" when `text` holds a
// usual delimiter other than the one in use, else "": a ';'-separated file read with the default ','.
std::string delimiter_hint(std::string_view text, char delimiter) {
  for (const char c : {';', '\t', ',', '|'}) {
    if (c == delimiter || text.find(c) == std::string_view::npos) continue;
    const std::string shown = c == '\t' ? "\"\\t\"" : std::string("'") + c + "'";
    return "; it holds " + shown + ": set `delimiter: " + shown + "` in the source if that separates its fields";
  }
  return "";
}

// The 0-based indices of `columns:` (negative ones count from the end), checked against the width; messages
// name columns from 1, as spreadsheets and the errors about fields do.
std::vector<size_t> resolve_columns(const std::string& file, const Line& reference, size_t width,
                                    const CsvOptions& options) {
  std::vector<size_t> columns;
  if (options.columns.empty()) {
    for (size_t c = 0; c < width; ++c) columns.push_back(c);
    return columns;
  }
  const auto w = static_cast<int64_t>(width);
  for (int64_t c : options.columns) {
    const int64_t index = c < 0 ? c + w : c;
    if (index >= 0 && index < w) {
      columns.push_back(static_cast<size_t>(index));
      continue;
    }
    const std::string selected = c < 0 ? "index " + std::to_string(c) + " (counting from the end)"
                                       : "column " + std::to_string(c + 1) + " (index " + std::to_string(c) + ")";
    throw DataFileError(file, reference.number,
                        "'columns' selects " + selected + ", but the row has only " + plural(w, "field") +
                            (width == 1 ? delimiter_hint(reference.text, options.delimiter) : ""));
  }
  return columns;
}

float parse_field(const std::string& file, const Line& line, size_t column,
                  std::string_view field, char delimiter) {
  const auto row = line.number;
  const auto col = static_cast<int64_t>(column + 1);
  if (field.empty()) throw DataFileError(file, row, col, "empty field");
  float value = 0;
  switch (parse_float(field, value)) {
    case ParseStatus::ok:
      return value;
    case ParseStatus::not_a_number:
      throw DataFileError(file, row, col,
                          "'" + std::string(field) + "' is not a number" + delimiter_hint(field, delimiter));
    case ParseStatus::not_finite:
      throw DataFileError(file, row, col, "'" + std::string(field) + "' is " + non_finite_name(value) +
                                              "; data must be finite numbers");
    case ParseStatus::out_of_range:
      break;
  }
  throw DataFileError(file, row, col, "'" + std::string(field) + "' is out of float range");
}

}  // namespace

Tensor read_csv(const std::filesystem::path& path, const CsvOptions& options) {
  const std::string file = path.string();
  const std::string text = read_maybe_gzipped(path);
  const std::vector<Line> lines = split_lines(text);
  if (lines.empty()) throw DataFileError(file, -1, "empty file");
  const size_t first_data = options.header ? 1 : 0;
  if (lines.size() == first_data) throw DataFileError(file, -1, "no data rows after the header");

  // The first data row fixes the width every row must have. A header line may differ:
  // scikit-learn's CSVs open with "569,30,malignant,benign" above 31 columns of data.
  const Line& reference = lines[first_data];
  std::vector<std::string_view> fields;
  split_fields(reference.text, options.delimiter, fields);
  const size_t width = fields.size();
  const std::vector<size_t> columns = resolve_columns(file, reference, width, options);

  const auto rows = static_cast<int64_t>(lines.size() - first_data);
  Tensor result;
  result.resize({rows, static_cast<int64_t>(columns.size())});
  float* out = result.data();
  for (size_t i = first_data; i < lines.size(); ++i) {
    const Line& line = lines[i];
    if (trim(line.text).empty())
      throw DataFileError(file, line.number, "blank line; only trailing blank lines are allowed");
    split_fields(line.text, options.delimiter, fields);
    if (fields.size() != width)
      throw DataFileError(file, line.number,
                          plural(static_cast<int64_t>(fields.size()), "field") + ", expected " +
                              std::to_string(width) + " like row " +
                              std::to_string(reference.number));
    for (size_t c : columns) *out++ = parse_field(file, line, c, fields[c], options.delimiter);
  }
  return result;
}

}  // namespace gradflow
