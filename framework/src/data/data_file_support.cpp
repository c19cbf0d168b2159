// Errors that name a data file and its row, and the bytes of a file, gunzipped when it is gzip.
#include "data_file_support.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

namespace gradflow {

using data_files::plural;

namespace {

// "FILE: WHAT", "FILE: row R: WHAT" or "FILE: row R, column C: WHAT".
std::string locate(const std::string& file, int64_t row, int64_t column, const std::string& what) {
  if (row < 0) return file + ": " + what;
  std::string where = file + ": row " + std::to_string(row);
  if (column >= 0) where += ", column " + std::to_string(column);
  return where + ": " + what;
}

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

}  // namespace

namespace data_files {

std::string non_finite_name(float value) {
  if (std::isnan(value)) return "NaN";
  return value > 0 ? "infinite" : "-infinite";
}

std::string plural(int64_t n, const char* noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

}  // namespace data_files

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

}  // namespace gradflow
