// Reads IDX files (the MNIST format, gzipped or not) into a tensor of the raw values.
#include <bit>
#include <cmath>
#include <cstring>
#include <string_view>

#include "data_file_support.hpp"

namespace gradflow {

using data_files::non_finite_name;
using data_files::plural;

namespace {

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
