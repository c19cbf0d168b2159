#include "gradflow/safetensors.hpp"

#include "gradflow/atomic_file.hpp"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace gradflow {

namespace {

using nlohmann::json;

constexpr const char* kMetadataKey = "__metadata__";
// CRC32 of the header without the checksum keys (header_crc); kChecksumKey covers the data.
constexpr const char* kHeaderChecksumKey = "gradflow.header_crc32";

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw CheckpointError(path.string() + ": " + what);
}

std::string errno_text() { return std::strerror(errno); }

std::string quoted(const std::string& name) { return "'" + name + "'"; }

// ---- Bytes ---------------------------------------------------------------------------------

// The file format is little-endian; on a big-endian host the values are swapped through a
// scratch buffer, on the usual little-endian host F32 values are used in place. An I64 tensor
// is converted through the scratch buffer.
std::span<const unsigned char> le_bytes(const Tensor& t, bool integer, std::vector<unsigned char>& scratch) {
  const auto* raw = reinterpret_cast<const unsigned char*>(t.data());
  const size_t n = static_cast<size_t>(t.size()) * sizeof(float);
  if (integer) {
    scratch.resize(static_cast<size_t>(t.size()) * 8);
    for (int64_t i = 0; i < t.size(); ++i) {
      const auto v = static_cast<uint64_t>(static_cast<int64_t>(t.data()[i]));
      for (int b = 0; b < 8; ++b) scratch[static_cast<size_t>(i) * 8 + static_cast<size_t>(b)] = static_cast<unsigned char>(v >> (8 * b));
    }
    return scratch;
  }
  if constexpr (std::endian::native == std::endian::little) {
    return {raw, n};
  } else {
    scratch.assign(raw, raw + n);
    for (size_t i = 0; i < n; i += 4) std::reverse(scratch.begin() + i, scratch.begin() + i + 4);
    return scratch;
  }
}

void copy_from_le(const unsigned char* src, bool integer, Tensor& t) {
  if (integer) {
    for (int64_t i = 0; i < t.size(); ++i) {
      uint64_t v = 0;
      for (int b = 7; b >= 0; --b) v = v << 8 | src[static_cast<size_t>(i) * 8 + static_cast<size_t>(b)];
      t.data()[i] = static_cast<float>(static_cast<int64_t>(v));
    }
    return;
  }
  const size_t n = static_cast<size_t>(t.size()) * sizeof(float);
  if (n == 0) return;  // data() may be null for an empty tensor
  auto* dst = reinterpret_cast<unsigned char*>(t.data());
  std::memcpy(dst, src, n);
  if constexpr (std::endian::native == std::endian::big)
    for (size_t i = 0; i < n; i += 4) std::reverse(dst + i, dst + i + 4);
}

// zlib's crc32 takes a 32-bit length: feed large buffers in slices.
uLong crc32_update(uLong crc, std::span<const unsigned char> bytes) {
  while (!bytes.empty()) {
    const size_t n = std::min<size_t>(bytes.size(), size_t{1} << 30);
    crc = crc32(crc, bytes.data(), static_cast<uInt>(n));
    bytes = bytes.subspan(n);
  }
  return crc;
}

// Bytes of a tensor of this shape with `element` bytes per value, or -1 when that overflows
// int64 (a hostile header).
int64_t tensor_bytes(const Shape& shape, int64_t element) {
  int64_t n = element;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, d, &n)) return -1;
  return n;
}

// ---- Writing -------------------------------------------------------------------------------

void check_writable(const std::filesystem::path& path, const TensorFile& file) {
  for (const auto& [name, tensor] : file.tensors) {
    if (name == kMetadataKey) fail(path, "a tensor cannot be named __metadata__");
    // A default-constructed Tensor has shape [] (one value) but no storage.
    if (tensor.size() != numel(tensor.shape()))
      fail(path, "tensor " + quoted(name) + " has no storage (a default-constructed Tensor)");
  }
}

uLong data_crc(const TensorFile& file) {
  uLong crc = crc32(0L, Z_NULL, 0);
  std::vector<unsigned char> scratch;
  for (const auto& [name, tensor] : file.tensors)
    crc = crc32_update(crc, le_bytes(tensor, file.integer_tensors.count(name) != 0, scratch));
  return crc;
}

// CRC32 of the header as JSON without the two checksum keys: names, shapes, offsets and
// metadata (epoch, step, seed) are covered too, not only the tensor bytes.
uLong header_crc(json header) {
  const auto it = header.find(kMetadataKey);
  if (it != header.end() && it->is_object()) {
    it->erase(kChecksumKey);
    it->erase(kHeaderChecksumKey);
  }
  const std::string text = header.dump();
  return crc32_update(crc32(0L, Z_NULL, 0),
                      {reinterpret_cast<const unsigned char*>(text.data()), text.size()});
}

// The JSON header, padded with spaces to a multiple of 8 bytes as the Python library does,
// so the data buffer starts 8-byte aligned.
std::string build_header(const std::filesystem::path& path, const TensorFile& file) {
  json header = json::object();
  json metadata(file.metadata);
  metadata.erase(kChecksumKey);  // ours win over stale copies
  metadata.erase(kHeaderChecksumKey);
  header[kMetadataKey] = std::move(metadata);
  uint64_t offset = 0;
  for (const auto& [name, tensor] : file.tensors) {
    const bool integer = file.integer_tensors.count(name) != 0;
    const uint64_t end = offset + static_cast<uint64_t>(tensor.size()) * (integer ? 8 : sizeof(float));
    header[name] = {{"dtype", integer ? "I64" : "F32"}, {"shape", tensor.shape()}, {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text;
  try {
    header[kMetadataKey][kHeaderChecksumKey] = std::to_string(header_crc(header));
    header[kMetadataKey][kChecksumKey] = std::to_string(data_crc(file));
    text = header.dump();
  } catch (const json::exception&) {
    fail(path, "cannot encode the header: tensor names and metadata must be valid UTF-8");
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

void write_u64_le(AtomicFile& out, uint64_t v) {
  unsigned char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(v >> (8 * i));
  out.write(bytes, sizeof bytes);
}

// ---- Reading -------------------------------------------------------------------------------

struct FileCloser {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

std::string read_bytes(const std::filesystem::path& path) {
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) fail(path, "cannot open: " + errno_text());
  std::string bytes;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f.get())) > 0) bytes.append(buffer, n);
  if (std::ferror(f.get())) fail(path, "read error: " + errno_text());
  return bytes;
}

uint64_t read_u64_le(const std::string& bytes) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(bytes[static_cast<size_t>(i)]);
  return v;
}

// The largest header the safetensors reference implementation reads (100 MB).
constexpr uint64_t kMaxHeaderLength = 100'000'000;

json parse_header(const std::filesystem::path& path, const std::string& bytes, size_t& data_start) {
  if (bytes.size() < 8)
    fail(path, "file too short: " + std::to_string(bytes.size()) +
                   " bytes, a safetensors file starts with an 8-byte header length");
  const uint64_t length = read_u64_le(bytes);
  const uint64_t available = bytes.size() - 8;
  if (length > available) {
    // A JSON header of a plausible size that the file stops inside was cut short; anything else (a YAML
    // file given as a checkpoint reads as a length of some 10^18 bytes) is another kind of file.
    if (available == 0 || bytes[8] != '{' || length > kMaxHeaderLength)
      fail(path, "not a safetensors file: it does not start with an 8-byte header length and a JSON header");
    fail(path, "truncated: the header is " + std::to_string(length) + " bytes long, but the file ends " +
                   std::to_string(available) + " bytes after its length field");
  }
  const auto begin = bytes.begin() + 8;
  const auto end = begin + static_cast<std::ptrdiff_t>(length);
  json header;
  try {
    header = json::parse(begin, end);
  } catch (const json::parse_error& e) {
    fail(path, "header is not valid JSON (error at byte " + std::to_string(e.byte) + ")");
  }
  if (!header.is_object()) fail(path, "header is not a JSON object");
  data_start = 8 + static_cast<size_t>(length);
  return header;
}

std::map<std::string, std::string> parse_metadata(const std::filesystem::path& path,
                                                  const json& header) {
  std::map<std::string, std::string> metadata;
  const auto it = header.find(kMetadataKey);
  if (it == header.end()) return metadata;
  if (!it->is_object()) fail(path, "__metadata__ is not an object");
  for (const auto& [key, value] : it->items()) {
    if (!value.is_string()) fail(path, "metadata " + quoted(key) + " is not a string");
    metadata[key] = value.get<std::string>();
  }
  return metadata;
}

struct Entry {
  std::string name;
  Shape shape;
  uint64_t begin, end;
  bool integer;  // I64, else F32
};

const json& require(const std::filesystem::path& path, const std::string& name, const json& entry,
                    const char* key) {
  const auto it = entry.find(key);
  if (it == entry.end()) fail(path, "tensor " + quoted(name) + " has no " + key);
  return *it;
}

Shape parse_shape(const std::filesystem::path& path, const std::string& name, const json& j) {
  const std::string what = "tensor " + quoted(name);
  if (!j.is_array()) fail(path, what + ": shape is not a list of integers");
  Shape shape;
  for (const json& d : j) {
    if (!d.is_number_integer()) fail(path, what + ": shape is not a list of integers");
    if (d.is_number_unsigned() && d.get<uint64_t>() > uint64_t{std::numeric_limits<int64_t>::max()})
      fail(path, what + ": shape is too large");
    shape.push_back(d.get<int64_t>());
  }
  for (int64_t d : shape)
    if (d < 0) fail(path, what + " has a negative dimension in shape " + to_string(shape));
  return shape;
}

Entry parse_entry(const std::filesystem::path& path, const std::string& name, const json& entry,
                  uint64_t buffer_size) {
  const std::string what = "tensor " + quoted(name);
  if (!entry.is_object()) fail(path, what + " is not an object");
  const json& dtype = require(path, name, entry, "dtype");
  const json& shape_json = require(path, name, entry, "shape");
  const json& offsets = require(path, name, entry, "data_offsets");
  if (!dtype.is_string()) fail(path, what + ": dtype is not a string");
  if (dtype != "F32" && dtype != "I64")
    fail(path, what + " has dtype " + dtype.get<std::string>() + "; gradflow reads F32 (and I64 counters) only");
  const bool integer = dtype == "I64";
  Shape shape = parse_shape(path, name, shape_json);
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    fail(path, what + ": data_offsets is not a pair [begin, end] of non-negative integers");
  const auto begin = offsets[0].get<uint64_t>();
  const auto end = offsets[1].get<uint64_t>();
  const std::string span_text = "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
  if (end < begin) fail(path, what + ": data_offsets " + span_text + " end before they begin");
  const int64_t bytes = tensor_bytes(shape, integer ? 8 : 4);
  if (end > buffer_size)  // "truncated" when the entry itself is consistent: the file ends too soon
    fail(path, std::string(bytes >= 0 && static_cast<uint64_t>(bytes) == end - begin ? "truncated: " : "") + what +
                   ": data_offsets " + span_text + " reach past the end of the " + std::to_string(buffer_size) +
                   "-byte data buffer");
  if (bytes < 0) fail(path, what + ": shape " + to_string(shape) + " is too large");
  if (static_cast<uint64_t>(bytes) != end - begin)
    fail(path, what + " has shape " + to_string(shape) + " (" + std::to_string(bytes) +
                   " bytes) but data_offsets " + span_text + " span " +
                   std::to_string(end - begin) + " bytes");
  return {name, std::move(shape), begin, end, integer};
}

// Tensors must tile the buffer exactly: no overlaps (which would alias two tensors) and no
// gaps (bytes nobody accounts for), as the reference implementation requires.
void check_layout(const std::filesystem::path& path, std::vector<Entry> entries,
                  uint64_t buffer_size) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  const Entry* last = nullptr;  // the entry that reaches `covered`
  auto gap = [&](uint64_t from, uint64_t to) {
    fail(path, "the data buffer has " + std::to_string(to - from) + " unused bytes at [" +
                   std::to_string(from) + ", " + std::to_string(to) + ")");
  };
  for (const Entry& e : entries) {
    if (e.begin < covered)
      fail(path, "tensors " + quoted(last->name) + " and " + quoted(e.name) +
                     " overlap in the data buffer");
    if (e.begin > covered) gap(covered, e.begin);
    covered = e.end;
    last = &e;
  }
  if (covered < buffer_size) gap(covered, buffer_size);
}

uint32_t stored_crc(const std::filesystem::path& path, const char* key, const std::string& text) {
  uint32_t stored = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), stored);
  if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty())
    fail(path, std::string("metadata ") + key + " is not a decimal CRC32: '" + text + "'");
  return stored;
}

void check_crc(const std::filesystem::path& path, std::map<std::string, std::string>& metadata,
               const json& header, std::span<const unsigned char> buffer) {
  const auto data_it = metadata.find(kChecksumKey);
  const auto header_it = metadata.find(kHeaderChecksumKey);
  if (data_it != metadata.end()) stored_crc(path, kChecksumKey, data_it->second);
  if (header_it != metadata.end()) stored_crc(path, kHeaderChecksumKey, header_it->second);
  if (data_it == metadata.end() || header_it == metadata.end()) {
    // Files from other tools carry neither and load unchecked; a file with gradflow's keys
    // but not both checksums had its header damaged (a corrupted key name, say).
    const bool ours = std::any_of(metadata.begin(), metadata.end(),
                                  [](const auto& kv) { return kv.first.rfind("gradflow.", 0) == 0; });
    if (ours)
      fail(path, std::string("checksum missing: the file has gradflow metadata but not both ") +
                     kChecksumKey + " and " + kHeaderChecksumKey + "; the header is corrupted");
    return;
  }
  const uint32_t stored_header = stored_crc(path, kHeaderChecksumKey, header_it->second);
  const uLong computed_header = header_crc(header);
  if (computed_header != stored_header)
    fail(path, "checksum mismatch: the header is corrupted (" + std::string(kHeaderChecksumKey) +
                   " stored " + header_it->second + ", computed " + std::to_string(computed_header) + ")");
  const std::string& text = data_it->second;
  const uint32_t stored = stored_crc(path, kChecksumKey, text);
  const uLong computed = crc32_update(crc32(0L, Z_NULL, 0), buffer);
  if (computed != stored)
    fail(path, "checksum mismatch: the file is corrupted (crc32 stored " + text + ", computed " +
                   std::to_string(computed) + ")");
  metadata.erase(kChecksumKey);  // integrity details of this file, not user metadata
  metadata.erase(kHeaderChecksumKey);
}

}  // namespace

void write_safetensors(const std::filesystem::path& path, const TensorFile& file) {
  check_writable(path, file);
  const std::string header = build_header(path, file);
  try {
    AtomicFile out(path);
    write_u64_le(out, header.size());
    out.write(header.data(), header.size());
    std::vector<unsigned char> scratch;
    for (const auto& [name, tensor] : file.tensors) {
      const auto bytes = le_bytes(tensor, file.integer_tensors.count(name) != 0, scratch);
      out.write(bytes.data(), bytes.size());
    }
    out.commit();
  } catch (const FileWriteError& e) {
    throw CheckpointError(e.what());
  }
}

TensorFile read_safetensors(const std::filesystem::path& path) {
  const std::string bytes = read_bytes(path);
  size_t data_start = 0;
  const json header = parse_header(path, bytes, data_start);
  const uint64_t buffer_size = bytes.size() - data_start;

  TensorFile result;
  result.metadata = parse_metadata(path, header);
  std::vector<Entry> entries;
  for (const auto& [name, entry] : header.items())
    if (name != kMetadataKey) entries.push_back(parse_entry(path, name, entry, buffer_size));
  check_layout(path, entries, buffer_size);

  const auto* buffer = reinterpret_cast<const unsigned char*>(bytes.data()) + data_start;
  check_crc(path, result.metadata, header, {buffer, static_cast<size_t>(buffer_size)});
  for (const Entry& e : entries) {
    Tensor t;
    t.resize(e.shape);
    copy_from_le(buffer + e.begin, e.integer, t);
    if (e.integer) result.integer_tensors.insert(e.name);
    result.tensors.emplace(e.name, std::move(t));
  }
  return result;
}

}  // namespace gradflow
