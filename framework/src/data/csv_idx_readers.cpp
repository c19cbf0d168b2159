#include "gradflow/csv_idx_readers.hpp"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string_view>

namespace gradflow {

namespace {

// "FILE: WHAT", "FILE: row R: WHAT" or "FILE: row R, column C: WHAT".
std::string locate(const std::string& file, int64_t row, int64_t column, const std::string& what) {
  if (row < 0) return file + ": " + what;
  std::string where = file + ": row " + std::to_string(row);
  if (column >= 0) where += ", column " + std::to_string(column);
  return where + ": " + what;
}

// "NaN", "infinite" or "-infinite": how a refused value is named.
std::string non_finite_name(float value) {
  if (std::isnan(value)) return "NaN";
  return value > 0 ? "infinite" : "-infinite";
}

std::string plural(int64_t n, const char* noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

// ---- Raw bytes and gzip ------------------------------------------------------------------

struct FileCloser {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

// stdio rather than iostreams: errno after fopen/fread tells the user *why* it failed.
std::string read_file_bytes(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(file.c_str(), "rb"));
  if (!f) throw DataFileError(file, -1, std::string("cannot open: ") + std::strerror(errno));
  std::string bytes;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f.get())) > 0) bytes.append(buffer, n);
  if (std::ferror(f.get()))
    throw DataFileError(file, -1, std::string("read error: ") + std::strerror(errno));
  return bytes;
}

bool has_gzip_magic(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

// The gzip trailer's ISIZE (uncompressed size mod 2^32) of the last member: only a
// capacity hint, so a hostile trailer cannot make us reserve more than the data could inflate
// to (deflate expands at most 1032:1; a fuzzed 529-byte file reserved 256 MB) or 256 MB.
size_t gzip_size_hint(std::string_view bytes) {
  if (bytes.size() < 18) return 0;
  const auto* tail = reinterpret_cast<const unsigned char*>(bytes.data() + bytes.size() - 4);
  const uint32_t isize = uint32_t{tail[0]} | uint32_t{tail[1]} << 8 | uint32_t{tail[2]} << 16 |
                         uint32_t{tail[3]} << 24;
  constexpr size_t kMaxDeflateRatio = 1032;
  return std::min({size_t{isize}, bytes.size() * kMaxDeflateRatio, size_t{1} << 28});
}

struct InflateEnd {
  z_stream* stream;
  ~InflateEnd() { inflateEnd(stream); }
};

// Inflates every gzip member in turn, as gunzip does with concatenated files.
std::string gunzip(const std::string& file, std::string_view in) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)  // 16: expect a gzip wrapper
    throw DataFileError(file, -1, "cannot initialise zlib");
  InflateEnd guard{&zs};
  std::string out;
  out.reserve(gzip_size_hint(in));
  size_t fed = 0;  // bytes of `in` handed to zlib so far
  char buffer[1 << 16];
  for (;;) {
    if (zs.avail_in == 0 && fed < in.size()) {
      // avail_in is a 32-bit uInt: feed huge inputs in slices.
      const auto slice = static_cast<uInt>(std::min<size_t>(in.size() - fed, size_t{1} << 30));
      // zlib never writes through next_in; its API merely predates const.
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + fed));
      zs.avail_in = slice;
      fed += slice;
    }
    zs.next_out = reinterpret_cast<Bytef*>(buffer);
    zs.avail_out = sizeof buffer;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buffer, sizeof buffer - zs.avail_out);
    if (rc == Z_STREAM_END) {
      const size_t pos = fed - zs.avail_in;  // first byte after this member
      if (pos == in.size()) return out;
      if (!has_gzip_magic(in.substr(pos)))
        throw DataFileError(file, -1,
                            "trailing garbage after the gzip data (" +
                                plural(static_cast<int64_t>(in.size() - pos), "byte") + ")");
      inflateReset(&zs);
    } else if (rc == Z_BUF_ERROR && zs.avail_in == 0 && fed == in.size()) {
      throw DataFileError(file, -1, "truncated gzip data: the stream ends early");
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      throw DataFileError(file, -1,
                          std::string("corrupt gzip data: ") +
                              (zs.msg ? zs.msg : "zlib error " + std::to_string(rc)));
    }
  }
}

// ---- CSV -----------------------------------------------------------------------------------

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

// ---- IDX -----------------------------------------------------------------------------------

struct IdxType {
  unsigned char code;
  size_t size;
};

constexpr IdxType kIdxTypes[] = {{0x08, 1}, {0x09, 1}, {0x0B, 2}, {0x0C, 4}, {0x0D, 4}, {0x0E, 8}};

const IdxType* find_idx_type(unsigned char code) {
  for (const auto& t : kIdxTypes)
    if (t.code == code) return &t;
  return nullptr;
}

std::string hex_byte(unsigned char b) {
  static constexpr char digits[] = "0123456789abcdef";
  return {digits[b >> 4], digits[b & 15]};
}

uint64_t read_be(const unsigned char* p, size_t size) {
  uint64_t v = 0;
  for (size_t i = 0; i < size; ++i) v = v << 8 | p[i];
  return v;
}

// One big-endian value of the given IDX type, as float.
float decode_idx_value(const unsigned char* p, unsigned char code) {
  switch (code) {
    case 0x08: return static_cast<float>(p[0]);
    case 0x09: return static_cast<float>(static_cast<int8_t>(p[0]));
    case 0x0B: return static_cast<float>(static_cast<int16_t>(read_be(p, 2)));
    case 0x0C: return static_cast<float>(static_cast<int32_t>(read_be(p, 4)));
    case 0x0D: return std::bit_cast<float>(static_cast<uint32_t>(read_be(p, 4)));
    default: return static_cast<float>(std::bit_cast<double>(read_be(p, 8)));
  }
}

// How a value read as NaN or infinite is named: a finite double beyond FLT_MAX is "out of
// float range", like such a CSV field.
std::string idx_non_finite(const unsigned char* p, unsigned char code, float value) {
  if (code == 0x0E && std::isfinite(std::bit_cast<double>(read_be(p, 8)))) return "out of float range";
  return non_finite_name(value);
}

struct IdxHeader {
  const IdxType* type;
  Shape shape;
  size_t header_bytes;
};

IdxHeader parse_idx_header(const std::string& file, std::string_view bytes) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 4)
    throw DataFileError(file, -1,
                        "truncated header: the file has only " +
                            plural(static_cast<int64_t>(bytes.size()), "byte") +
                            ", an IDX header needs at least 4");
  if (b[0] != 0 || b[1] != 0)
    throw DataFileError(file, -1,
                        "not an IDX file: it starts with " + hex_byte(b[0]) + " " + hex_byte(b[1]) +
                            " " + hex_byte(b[2]) + " " + hex_byte(b[3]) +
                            ", expected 00 00 then a type code and the number of dimensions");
  const IdxType* type = find_idx_type(b[2]);
  if (!type)
    throw DataFileError(file, -1,
                        "unknown IDX type code 0x" + hex_byte(b[2]) +
                            ": expected 08 (ubyte), 09 (sbyte), 0b (short), 0c (int), "
                            "0d (float) or 0e (double)");
  const size_t rank = b[3];
  if (rank == 0)
    throw DataFileError(file, -1, "the header declares 0 dimensions, need at least 1 (the samples)");
  const size_t header_bytes = 4 + 4 * rank;
  if (bytes.size() < header_bytes)
    throw DataFileError(file, -1,
                        "truncated header: " + plural(static_cast<int64_t>(rank), "dimension") +
                            " need " + std::to_string(header_bytes) +
                            " header bytes but the file has only " + std::to_string(bytes.size()));
  Shape shape;
  for (size_t i = 0; i < rank; ++i)
    shape.push_back(static_cast<int64_t>(read_be(b + 4 + 4 * i, 4)));
  return {type, std::move(shape), header_bytes};
}

// Number of values the shape holds, or -1 when it overflows int64 (a hostile header).
int64_t checked_numel(const Shape& shape, size_t value_size) {
  int64_t n = static_cast<int64_t>(value_size);
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, d, &n)) return -1;
  return n / static_cast<int64_t>(value_size);
}

void check_idx_size(const std::string& file, const IdxHeader& header, size_t data_bytes) {
  const int64_t values = checked_numel(header.shape, header.type->size);
  if (values < 0)
    throw DataFileError(file, -1, "header dimensions " + to_string(header.shape) + " are too large");
  const auto needed = static_cast<uint64_t>(values) * header.type->size;
  if (data_bytes < needed) {
    // Name the first sample that is incomplete.
    const uint64_t sample_bytes = needed / static_cast<uint64_t>(header.shape[0]);
    throw DataFileError(file, static_cast<int64_t>(data_bytes / sample_bytes),
                        "truncated: header promises " + std::to_string(values) + " values (" +
                            std::to_string(needed) + " bytes) but the file has only " +
                            std::to_string(data_bytes) + " bytes of data");
  }
  if (data_bytes > needed)
    throw DataFileError(file, -1,
                        "trailing data: " + plural(static_cast<int64_t>(data_bytes - needed), "byte") +
                            " after the " + std::to_string(needed) +
                            " bytes of data the header promises");
}

}  // namespace

DataFileError::DataFileError(std::string file_, int64_t row_, const std::string& what)
    : DataFileError(std::move(file_), row_, -1, what) {}

DataFileError::DataFileError(std::string file_, int64_t row_, int64_t column_,
                             const std::string& what)
    : std::runtime_error(locate(file_, row_, column_, what)),
      file(std::move(file_)),
      row(row_),
      column(column_) {}

std::string read_maybe_gzipped(const std::filesystem::path& path) {
  std::string bytes = read_file_bytes(path);
  if (!has_gzip_magic(bytes)) return bytes;
  return gunzip(path.string(), bytes);
}

Tensor read_csv(const std::filesystem::path& path, const CsvOptions& options) {
  const std::string file = path.string();
  const std::string text = read_maybe_gzipped(path);
  const std::vector<Line> lines = split_lines(text);
  if (lines.empty()) throw DataFileError(file, -1, "empty file");
  const size_t first_data = options.header ? 1 : 0;
  if (lines.size() == first_data) throw DataFileError(file, -1, "no data rows after the header");

  // The first line (the header, if any) fixes the width every row must have.
  const Line& reference = lines.front();
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

Tensor read_idx(const std::filesystem::path& path) {
  const std::string file = path.string();
  const std::string bytes = read_maybe_gzipped(path);
  const IdxHeader header = parse_idx_header(file, bytes);
  check_idx_size(file, header, bytes.size() - header.header_bytes);

  Tensor result;
  result.resize(header.shape);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data()) + header.header_bytes;
  const unsigned char code = header.type->code;
  float* out = result.data();
  const int64_t per_sample = header.shape[0] == 0 ? 1 : result.size() / header.shape[0];
  for (int64_t i = 0; i < result.size(); ++i, p += header.type->size) {
    out[i] = decode_idx_value(p, code);
    // Only float and double files can hold one (a double may also overflow float): row is the
    // 1-based sample, column the 1-based value within it.
    if (!std::isfinite(out[i]))
      throw DataFileError(file, i / per_sample + 1, i % per_sample + 1,
                          idx_non_finite(p, code, out[i]) + "; data must be finite numbers");
  }
  return result;
}

}  // namespace gradflow
