// CSV and IDX readers: fixtures are generated into a fresh temp directory per test, so the
// tests need no files in the repository and never interfere with each other.
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "support/temp_dir.hpp"
#include <cstdint>
#include <limits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gradflow/csv_idx_readers.hpp"
#include "gradflow/graph_file.hpp"
#include "gradflow/in_memory_dataset.hpp"
#include "gradflow/model.hpp"
#include "gradflow/trainer.hpp"

namespace fs = std::filesystem;
using gradflow::Column;
using gradflow::CsvOptions;
using gradflow::Dataset;
using gradflow::DataFileError;
using gradflow::read_csv;
using gradflow::read_idx;
using gradflow::read_maybe_gzipped;
using gradflow::Shape;
using gradflow::Tensor;

namespace {

using gradflow::test::TempDir;

using gradflow::test::write_file;

// mode "wb" writes one gzip member; "ab" appends another, as `cat a.gz b.gz` would.
void write_gzip(const std::string& path, const std::string& bytes, const char* mode = "wb") {
  gzFile gz = gzopen(path.c_str(), mode);
  REQUIRE(gz != nullptr);
  REQUIRE(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())) ==
          static_cast<int>(bytes.size()));
  REQUIRE(gzclose(gz) == Z_OK);
}

std::string read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<float> values(const Tensor& t) { return {t.values().begin(), t.values().end()}; }

// ---- IDX fixtures ----

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string idx_header(unsigned char type, const std::vector<uint32_t>& dims) {
  std::string h{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims) h += be32(d);
  return h;
}

std::string be_float(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return be32(u);
}

std::string be_double(double d) {
  uint64_t u;
  std::memcpy(&u, &d, 8);
  return be32(static_cast<uint32_t>(u >> 32)) + be32(static_cast<uint32_t>(u));
}

}  // namespace

// ---- read_maybe_gzipped ----

TEST_CASE("read_maybe_gzipped returns plain bytes and gunzips by magic", "[data_files]") {
  TempDir dir;
  const std::string text = "1,2,3\n4,5,6\n";
  write_file(dir / "plain.csv", text);
  write_gzip(dir / "packed.csv", text);  // gzipped without a .gz name: detected by magic
  write_file(dir / "fake.gz", text);      // a .gz name but not gzipped
  CHECK(read_maybe_gzipped(dir / "plain.csv") == text);
  CHECK(read_maybe_gzipped(dir / "packed.csv") == text);
  CHECK(read_maybe_gzipped(dir / "fake.gz") == text);

  SECTION("every member of a multi-member file") {
    write_gzip(dir / "multi.gz", "first,");
    write_gzip(dir / "multi.gz", "second\n", "ab");
    CHECK(read_maybe_gzipped(dir / "multi.gz") == "first,second\n");
  }
  SECTION("large, highly compressible content") {
    const std::string big(3'000'000, 'x');
    write_gzip(dir / "big.gz", big);
    CHECK(read_maybe_gzipped(dir / "big.gz") == big);
  }
  SECTION("an empty file") {
    write_file(dir / "empty", "");
    CHECK(read_maybe_gzipped(dir / "empty").empty());
  }
}

TEST_CASE("read_maybe_gzipped reports missing and damaged files", "[data_files]") {
  TempDir dir;
  const std::string missing = dir / "missing.csv";
  REQUIRE_THROWS_WITH(read_maybe_gzipped(missing),
                      missing + ": cannot open: No such file or directory");
  REQUIRE_THROWS_AS(read_maybe_gzipped(missing), DataFileError);

  write_gzip(dir / "good.gz", std::string(1000, 'a') + "some text to compress\n");
  const std::string good = read_raw(dir / "good.gz");

  const std::string truncated = dir / "truncated.gz";
  write_file(truncated, good.substr(0, good.size() - 6));
  REQUIRE_THROWS_WITH(read_maybe_gzipped(truncated),
                      truncated + ": truncated gzip data: the stream ends early");

  const std::string corrupt = dir / "corrupt.gz";
  write_file(corrupt, std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10) + "\xff\xff\xff\xff");
  REQUIRE_THROWS_WITH(read_maybe_gzipped(corrupt),
                      corrupt + ": corrupt gzip data: invalid block type");

  const std::string bad_crc = dir / "bad_crc.gz";
  std::string flipped = good;
  flipped[flipped.size() - 6] = static_cast<char>(flipped[flipped.size() - 6] ^ 1);  // in the CRC
  write_file(bad_crc, flipped);
  REQUIRE_THROWS_WITH(read_maybe_gzipped(bad_crc), bad_crc + ": corrupt gzip data: incorrect data check");

  const std::string trailing = dir / "trailing.gz";
  write_file(trailing, good + "junk");
  REQUIRE_THROWS_WITH(read_maybe_gzipped(trailing),
                      trailing + ": trailing garbage after the gzip data (4 bytes)");
}

// ---- CSV ----

TEST_CASE("read_csv reads every column of a plain file", "[data_files][csv]") {
  TempDir dir;
  const std::string path = dir / "plain.csv";
  // CRLF endings, spaces around fields, signs, exponents, no final newline.
  write_file(path, "1, 2.5 ,-3\r\n+4,5e2,  -6.25e-1\r\n0,1e-60,1e-45");  // 1e-60 underflows to 0
  const Tensor t = read_csv(path);
  CHECK(t.shape() == Shape{3, 3});
  CHECK(values(t) == std::vector<float>{1, 2.5f, -3, 4, 500, -0.625f, 0, 0, 1e-45f});
}

TEST_CASE("read_csv ignores blank trailing lines and a byte-order mark", "[data_files][csv]") {
  TempDir dir;
  const std::string path = dir / "blank.csv";
  write_file(path, "\xEF\xBB\xBF" "1,2\n3,4\n\n  \n\r\n");
  const Tensor t = read_csv(path);
  CHECK(t.shape() == Shape{2, 2});
  CHECK(values(t) == std::vector<float>{1, 2, 3, 4});
}

TEST_CASE("read_csv skips a header, selects columns and reads gzip", "[data_files][csv]") {
  TempDir dir;
  const std::string path = dir / "data.csv";  // gzipped despite the name
  write_gzip(path, "id;a;b;label\nx1;1;2;0\nx2;3;4;1\n");
  CsvOptions options;
  options.header = true;
  options.delimiter = ';';
  options.columns = {2, 1, -1};  // the text column 0 is never parsed
  const Tensor t = read_csv(path, options);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(values(t) == std::vector<float>{2, 1, 0, 4, 3, 1});

  options.columns = {1, 1};  // a column may be selected twice
  CHECK(values(read_csv(path, options)) == std::vector<float>{1, 1, 3, 3});
}

TEST_CASE("read_csv reports malformed files with file, row and column", "[data_files][csv]") {
  TempDir dir;
  const std::string path = dir / "bad.csv";

  SECTION("a file that cannot be opened") {
    REQUIRE_THROWS_WITH(read_csv(path), path + ": cannot open: No such file or directory");
  }
  SECTION("an empty file") {
    write_file(path, "");
    REQUIRE_THROWS_WITH(read_csv(path), path + ": empty file");
    write_file(path, "\n \n");
    REQUIRE_THROWS_WITH(read_csv(path), path + ": empty file");
  }
  SECTION("a header and no data") {
    write_file(path, "a,b\n\n");
    CsvOptions options;
    options.header = true;
    REQUIRE_THROWS_WITH(read_csv(path, options), path + ": no data rows after the header");
  }
  SECTION("a ragged row") {
    write_file(path, "1,2,3\n4,5,6\n7,8\n");
    REQUIRE_THROWS_WITH(read_csv(path), path + ": row 3: 2 fields, expected 3 like row 1");
    try {
      read_csv(path);
    } catch (const DataFileError& e) {
      CHECK(e.file == path);
      CHECK(e.row == 3);
      CHECK(e.column == -1);
    }
    write_file(path, "1\n2,3\n");
    REQUIRE_THROWS_WITH(read_csv(path), path + ": row 2: 2 fields, expected 1 like row 1");
  }
  SECTION("the first data row sets the width; a header line may differ, as scikit-learn's does") {
    CsvOptions options;
    options.header = true;
    write_file(path, "2,3,class_0,class_1\n1,2,3,0\n4,5,6,1\n");
    const Tensor t = read_csv(path, options);
    CHECK(t.shape() == Shape{2, 4});
    CHECK(t.data()[7] == 1.0f);
    write_file(path, "a,b,c\n1,2\n3\n");
    REQUIRE_THROWS_WITH(read_csv(path, options), path + ": row 3: 1 field, expected 2 like row 2");
  }
  SECTION("a non-numeric field") {
    write_file(path, "1,2,3\n4,5,abc\n");
    REQUIRE_THROWS_WITH(read_csv(path), path + ": row 2, column 3: 'abc' is not a number");
    try {
      read_csv(path);
    } catch (const DataFileError& e) {
      CHECK(e.row == 2);
      CHECK(e.column == 3);
    }
    write_file(path, "1,2x\n");
    REQUIRE_THROWS_WITH(read_csv(path), path + ": row 1, column 2: '2x' is not a number");
    write_file(path, "1,1,5\n\"1\",2,3\n");
    REQUIRE_THROWS_WITH(read_csv(path), path + ": row 2, column 1: '\"1\"' is not a number");
    write_file(path, "1,+-2\n");
    REQUIRE_THROWS_WITH(read_csv(path), path + ": row 1, column 2: '+-2' is not a number");
  }
  SECTION("an empty field") {
    write_file(path, "1,2\n3, \n");
    REQUIRE_THROWS_WITH(read_csv(path), path + ": row 2, column 2: empty field");
  }
  SECTION("a number beyond float range") {
    write_file(path, "1,1e39\n");
    REQUIRE_THROWS_WITH(read_csv(path), path + ": row 1, column 2: '1e39' is out of float range");
  }
  SECTION("a blank line before the end") {
    write_file(path, "1,2\n\n3,4\n");
    REQUIRE_THROWS_WITH(read_csv(path),
                        path + ": row 2: blank line; only trailing blank lines are allowed");
  }
  SECTION("a selected column beyond the row width") {
    write_file(path, "h1,h2\n1,2\n");
    CsvOptions options;
    options.header = true;
    options.columns = {0, 2};
    REQUIRE_THROWS_WITH(read_csv(path, options),
                        path + ": row 2: 'columns' selects column 3 (index 2), but the row has only 2 fields");
    options.columns = {-3};
    REQUIRE_THROWS_WITH(read_csv(path, options),
                        path + ": row 2: 'columns' selects index -3 (counting from the end), but the row has only 2 fields");
  }
  SECTION("a ';'-separated file read with the default delimiter") {
    write_file(path, "1;2;3\n4;5;6\n");
    CsvOptions options;
    options.columns = {0, 1};
    REQUIRE_THROWS_WITH(read_csv(path, options),
                        path + ": row 1: 'columns' selects column 2 (index 1), but the row has only 1 field; it holds "
                               "';': set `delimiter: ';'` in the source if that separates its fields");
    REQUIRE_THROWS_WITH(read_csv(path), path + ": row 1, column 1: '1;2;3' is not a number; it holds ';': set "
                                               "`delimiter: ';'` in the source if that separates its fields");
    write_file(path, "1\t2\n");
    REQUIRE_THROWS_WITH(read_csv(path), path + ": row 1, column 1: '1\t2' is not a number; it holds \"\\t\": set "
                                               "`delimiter: \"\\t\"` in the source if that separates its fields");
    options.delimiter = ';';
    options.columns = {};
    write_file(path, "1;2,5\n");
    REQUIRE_THROWS_WITH(read_csv(path, options), path + ": row 1, column 2: '2,5' is not a number; it holds ',': set "
                                                        "`delimiter: ','` in the source if that separates its fields");
  }
  SECTION("only selected columns are checked for numbers, all rows for width") {
    write_file(path, "1,x\n2,y\n");
    CsvOptions options;
    options.columns = {0};
    CHECK(values(read_csv(path, options)) == std::vector<float>{1, 2});
  }
  SECTION("a damaged gzip stream") {
    write_gzip(path, "1,2\n3,4\n");
    const std::string good = read_raw(path);
    write_file(path, good.substr(0, good.size() / 2));
    REQUIRE_THROWS_WITH(read_csv(path), path + ": truncated gzip data: the stream ends early");
  }
}

// ---- IDX ----

TEST_CASE("read_idx reads every element type, gzipped or not", "[data_files][idx]") {
  TempDir dir;
  const std::string path = dir / "data.idx";

  SECTION("ubyte images [N, rows, cols], no scaling") {
    write_file(path, idx_header(0x08, {2, 2, 3}) + std::string("\x00\x01\x02\x03\x04\x05\xfd\xfe\xff\x10\x20\x30", 12));
    const Tensor t = read_idx(path);
    CHECK(t.shape() == Shape{2, 2, 3});
    CHECK(values(t) == std::vector<float>{0, 1, 2, 3, 4, 5, 253, 254, 255, 16, 32, 48});
  }
  SECTION("gzipped ubyte labels [N]") {
    write_gzip(path, idx_header(0x08, {4}) + std::string("\x07\x00\x09\x03", 4));
    const Tensor t = read_idx(path);
    CHECK(t.shape() == Shape{4});
    CHECK(values(t) == std::vector<float>{7, 0, 9, 3});
  }
  SECTION("sbyte") {
    write_file(path, idx_header(0x09, {3}) + std::string("\x7f\x80\xff", 3));
    CHECK(values(read_idx(path)) == std::vector<float>{127, -128, -1});
  }
  SECTION("short") {
    write_file(path, idx_header(0x0B, {3}) + std::string("\x01\x02\x80\x00\xff\xff", 6));
    CHECK(values(read_idx(path)) == std::vector<float>{258, -32768, -1});
  }
  SECTION("int") {
    write_file(path, idx_header(0x0C, {2, 1}) + be32(70000) + be32(static_cast<uint32_t>(-5)));
    const Tensor t = read_idx(path);
    CHECK(t.shape() == Shape{2, 1});
    CHECK(values(t) == std::vector<float>{70000, -5});
  }
  SECTION("float") {
    write_file(path, idx_header(0x0D, {2}) + be_float(1.5f) + be_float(-0.1f));
    CHECK(values(read_idx(path)) == std::vector<float>{1.5f, -0.1f});
  }
  SECTION("double") {
    write_file(path, idx_header(0x0E, {2}) + be_double(2.25) + be_double(-1e-3));
    CHECK(values(read_idx(path)) == std::vector<float>{2.25f, static_cast<float>(-1e-3)});
  }
  SECTION("no samples") {
    write_file(path, idx_header(0x08, {0, 28, 28}));
    CHECK(read_idx(path).shape() == Shape{0, 28, 28});
  }
}

TEST_CASE("read_idx reports malformed files", "[data_files][idx]") {
  TempDir dir;
  const std::string path = dir / "bad.idx";

  SECTION("a file that cannot be opened") {
    REQUIRE_THROWS_WITH(read_idx(path), path + ": cannot open: No such file or directory");
  }
  SECTION("wrong magic") {
    write_file(path, "PK\x03\x04 more bytes");
    REQUIRE_THROWS_WITH(read_idx(path),
                        path + ": not an IDX file: it starts with 50 4b 03 04, expected 00 00 then "
                               "a type code and the number of dimensions");
  }
  SECTION("unknown type code") {
    write_file(path, idx_header(0x0A, {1}) + "x");
    REQUIRE_THROWS_WITH(read_idx(path),
                        path + ": unknown IDX type code 0x0a: expected 08 (ubyte), 09 (sbyte), "
                               "0b (short), 0c (int), 0d (float) or 0e (double)");
  }
  SECTION("no dimensions") {
    write_file(path, idx_header(0x08, {}));
    REQUIRE_THROWS_WITH(read_idx(path),
                        path + ": the header declares 0 dimensions, need at least 1 (the samples)");
  }
  SECTION("truncated header") {
    write_file(path, std::string("\0\0", 2));
    REQUIRE_THROWS_WITH(read_idx(path), path + ": truncated header: the file has only 2 bytes, "
                                               "an IDX header needs at least 4");
    write_file(path, idx_header(0x08, {10, 28, 28}).substr(0, 10));
    REQUIRE_THROWS_WITH(read_idx(path), path + ": truncated header: 3 dimensions need 16 header "
                                               "bytes but the file has only 10");
  }
  SECTION("truncated data names the first incomplete sample") {
    write_file(path, idx_header(0x0B, {4, 3}) + std::string(14, '\0'));
    REQUIRE_THROWS_WITH(read_idx(path),
                        path + ": row 2: truncated: header promises 12 values (24 bytes) but the "
                               "file has only 14 bytes of data");
    try {
      read_idx(path);
    } catch (const DataFileError& e) {
      CHECK(e.row == 2);
    }
  }
  SECTION("truncated gzipped data") {
    write_gzip(path, idx_header(0x08, {10000}) + std::string(100, '\1'));
    REQUIRE_THROWS_WITH(read_idx(path),
                        path + ": row 100: truncated: header promises 10000 values (10000 bytes) "
                               "but the file has only 100 bytes of data");
  }
  SECTION("dimensions whose product overflows") {
    write_file(path, idx_header(0x0E, {0xffffffff, 0xffffffff, 0xffffffff}) + "x");
    REQUIRE_THROWS_WITH(read_idx(path), path + ": header dimensions [4294967295, 4294967295, "
                                               "4294967295] are too large");
  }
  SECTION("trailing bytes") {
    write_file(path, idx_header(0x08, {2}) + "abc");
    REQUIRE_THROWS_WITH(read_idx(path), path + ": trailing data: 1 byte after the 2 bytes of "
                                               "data the header promises");
  }
}

// ---- Real data sets, when the Debian packages are installed ----

TEST_CASE("read_idx reads Fashion-MNIST's test labels", "[data_files][idx][dataset]") {
  const fs::path path = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
  if (!fs::exists(path)) {
    WARN("skipped: " << path << " is absent (install dataset-fashion-mnist)");
    return;
  }
  const Tensor labels = read_idx(path);
  REQUIRE(labels.shape() == Shape{10000});
  std::vector<int> counts(10, 0);
  for (float v : labels.values()) {
    REQUIRE(v >= 0);
    REQUIRE(v <= 9);
    REQUIRE(v == static_cast<float>(static_cast<int>(v)));
    ++counts[static_cast<size_t>(v)];
  }
  for (int c : counts) CHECK(c == 1000);  // the test set is balanced

  const fs::path images = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  if (fs::exists(images)) {
    const Tensor t = read_idx(images);
    CHECK(t.shape() == Shape{10000, 28, 28});
    CHECK(std::all_of(t.values().begin(), t.values().end(),
                      [](float v) { return v >= 0 && v <= 255 && v == static_cast<float>(static_cast<int>(v)); }));
  }
}

TEST_CASE("read_csv reads scikit-learn's gzipped digits", "[data_files][csv][dataset]") {
  const fs::path path = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";
  if (!fs::exists(path)) {
    WARN("skipped: " << path << " is absent (install python3-sklearn)");
    return;
  }
  const Tensor t = read_csv(path);
  REQUIRE(t.shape() == Shape{1797, 65});
  for (int64_t r = 0; r < t.rows(); ++r) {
    const float label = t[r * 65 + 64];
    REQUIRE(label >= 0);
    REQUIRE(label <= 9);
    REQUIRE(label == static_cast<float>(static_cast<int>(label)));
  }
  CsvOptions labels_only;
  labels_only.columns = {-1};
  const Tensor labels = read_csv(path, labels_only);
  CHECK(labels.shape() == Shape{1797, 1});
  CHECK(labels[0] == 0);
  CHECK(labels[1] == 1);
}

// ---- byte columns: ubyte IDX pixels stay bytes until a batch is gathered ----

namespace {

// `samples` x 12 bytes covering every value 0..255, as a ubyte IDX and as a short (0x0b) IDX
// of the same numbers: the short file takes the float path, so the two must load alike.
struct PixelFiles {
  std::string bytes, shorts, labels;
};

PixelFiles write_pixel_files(const TempDir& dir, uint32_t samples) {
  std::string bytes, shorts, labels;
  for (uint32_t i = 0; i < samples * 12; ++i) {
    const auto v = static_cast<unsigned char>((i * 37 + 11) % 256);
    bytes += static_cast<char>(v);
    shorts += std::string{'\0', static_cast<char>(v)};
  }
  for (uint32_t i = 0; i < samples; ++i) labels += static_cast<char>(i % 3);
  write_gzip(dir / "pixels.idx.gz", idx_header(0x08, {samples, 3, 4}) + bytes);
  write_file(dir / "pixels16.idx", idx_header(0x0B, {samples, 3, 4}) + shorts);
  write_file(dir / "labels.idx", idx_header(0x08, {samples}) + labels);
  return {dir / "pixels.idx.gz", dir / "pixels16.idx", dir / "labels.idx"};
}

// A 12-3 softmax classifier on `pixels` (scaled to [0, 1] and normalised, as
// graphs/fashion_mnist_mlp.yaml does) and `labels`.
std::string pixel_graph(const std::string& pixels, const std::string& labels) {
  return "graph: pixels\nseed: 3\ninputs:\n  x: {shape: [12]}\n  y: {shape: [1]}\nnodes:\n"
         "  - {name: fc, op: linear, inputs: [x], units: 3}\n"
         "  - {name: loss, op: cross_entropy, inputs: [fc, y]}\n"
         "  - {name: opt, op: adam, inputs: [loss], lr: 0.01}\n"
         "data:\n  train:\n"
         "    x: {idx: " + pixels + ", scale: 0.00392156862745098, normalize: {mean: 0.2860, std: 0.3530}}\n"
         "    y: {idx: " + labels + "}\n";
}

gradflow::LoadedGraph build_model(const std::string& yaml) {
  return gradflow::load_graph_text(yaml, "g.yaml", gradflow::default_registry());
}

std::vector<float> gather_all(const Column& column) {
  std::vector<int64_t> all(static_cast<size_t>(column.rows()));
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  Tensor batch;
  column.gather(all, batch);
  return values(batch);
}

// Bit patterns, so that the comparison is exact (and -0.0 differs from 0.0).
std::vector<uint32_t> bits(const std::vector<float>& floats) {
  std::vector<uint32_t> out(floats.size());
  std::memcpy(out.data(), floats.data(), floats.size() * sizeof(float));
  return out;
}

}  // namespace

TEST_CASE("a ubyte IDX source loads as bytes that gather the float path's exact floats", "[data_files][idx][column]") {
  TempDir dir;
  const PixelFiles files = write_pixel_files(dir, 40);
  const auto as_bytes = build_model(pixel_graph(files.bytes, files.labels));
  const auto as_floats = build_model(pixel_graph(files.shorts, files.labels));
  const Column& pixels = as_bytes.data.train.columns.at("x");
  const Column& reference = as_floats.data.train.columns.at("x");
  REQUIRE(pixels.is_bytes());
  REQUIRE_FALSE(reference.is_bytes());
  CHECK_FALSE(as_bytes.data.train.columns.at("y").is_bytes());  // labels stay floats
  CHECK(pixels.shape() == Shape{40, 12});
  CHECK(pixels.sample_shape() == Shape{12});
  CHECK(pixels.rows() == 40);
  CHECK(bits(gather_all(pixels)) == bits(gather_all(reference)));
  for (int64_t i = 0; i < pixels.value_count(); ++i) REQUIRE(pixels.value(i) == reference.value(i));

  SECTION("gather follows the indices, repeats included") {
    const std::vector<int64_t> rows{39, 0, 7, 7};
    Tensor a, b;
    pixels.gather(rows, a);
    reference.gather(rows, b);
    CHECK(a.shape() == Shape{4, 12});
    CHECK(bits(values(a)) == bits(values(b)));
  }
  SECTION("select and a train/test split keep bytes") {
    const std::vector<int64_t> rows{5, 1, 38};
    const Dataset subset = as_bytes.data.train.select(rows);
    const Column& picked = subset.columns.at("x");
    CHECK(picked.is_bytes());
    CHECK(picked.shape() == Shape{3, 12});
    CHECK(picked.bytes() == 3 * 12);
    Tensor expected;
    reference.gather(rows, expected);
    CHECK(bits(gather_all(picked)) == bits(values(expected)));
    CHECK(subset.columns.at("y").value(2) == 38 % 3);

    const std::string split = pixel_graph(files.bytes, files.labels) + "  split: 0.25\n";
    const auto loaded = build_model(split);
    CHECK(loaded.data.train.columns.at("x").is_bytes());
    CHECK(loaded.data.test.columns.at("x").is_bytes());
    CHECK(loaded.data.train.size + loaded.data.test.size == 40);
  }
}

TEST_CASE("training on a byte column gives the float path's losses exactly", "[data_files][idx][column]") {
  TempDir dir;
  const PixelFiles files = write_pixel_files(dir, 64);
  std::vector<double> losses[2];
  int side = 0;
  for (const std::string& pixels : {files.bytes, files.shorts}) {
    gradflow::LoadedGraph loaded = build_model(pixel_graph(pixels, files.labels));
    auto& model = loaded.model;
    const gradflow::DataSets& data = loaded.data;
    REQUIRE(data.train.columns.at("x").is_bytes() == (side == 0));
    model->init_parameters(model->spec().seed);
    gradflow::Trainer trainer(*model, gradflow::TrainOptions::batches(16, true, 5));
    for (int64_t epoch = 0; epoch < 5; ++epoch)
      losses[side].push_back(trainer.train_epoch(data.train, epoch).loss);
    ++side;
  }
  CHECK(losses[0] == losses[1]);
  CHECK(losses[0].back() < losses[0].front());
}

TEST_CASE("a 1000 x 784 ubyte IDX column takes a byte per pixel", "[data_files][idx][column]") {
  TempDir dir;
  std::string pixels(1000 * 784, '\0');
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<char>(i % 251);
  write_file(dir / "images.idx", idx_header(0x08, {1000, 28, 28}) + pixels);
  write_file(dir / "labels.idx", idx_header(0x08, {1000}) + std::string(1000, '\1'));
  const std::string yaml = "graph: m\ninputs:\n  x: {shape: [784]}\n  y: {shape: [1]}\nnodes:\n"
                           "  - {name: fc, op: linear, inputs: [x], units: 10}\n"
                           "  - {name: loss, op: cross_entropy, inputs: [fc, y]}\n"
                           "data:\n  train:\n    x: {idx: " + dir / "images.idx" + ", scale: 0.5}\n"
                           "    y: {idx: " + dir / "labels.idx" + "}\n";
  const auto loaded = build_model(yaml);
  const Column& images = loaded.data.train.columns.at("x");
  REQUIRE(images.is_bytes());
  CHECK(images.bytes() == 784'000);  // not the 3,136,000 of floats
  CHECK(images.value(784 * 3 + 5) == static_cast<float>((784 * 3 + 5) % 251) * 0.5f);
  CHECK(loaded.data.train.columns.at("y").bytes() == 1000 * 4);
}

TEST_CASE("Column: float columns wrap tensors, byte columns map through their table", "[column]") {
  const Column floats = Tensor({3, 2}, {1, 2, 3, 4, 5, 6});
  CHECK_FALSE(floats.is_bytes());
  CHECK(floats.rows() == 3);
  CHECK(floats.bytes() == 24);
  const std::vector<int64_t> rows{2, 0};
  Tensor batch;
  floats.gather(rows, batch);
  CHECK(values(batch) == std::vector<float>{5, 6, 1, 2});
  CHECK(values(floats.select(rows).floats()) == std::vector<float>{5, 6, 1, 2});

  gradflow::ByteTable table{};
  for (size_t b = 0; b < table.size(); ++b) table[b] = static_cast<float>(b) - 0.5f;
  const Column bytes = Column::from_bytes(std::string("\x00\x01\xff\x10\x20\x30", 6), {3, 2}, table);
  CHECK(bytes.is_bytes());
  CHECK(bytes.bytes() == 6);
  bytes.gather(rows, batch);
  CHECK(values(batch) == std::vector<float>{31.5f, 47.5f, -0.5f, 0.5f});
  CHECK(bytes.value(2) == 254.5f);
  CHECK_THROWS_AS(bytes.floats(), std::logic_error);
  CHECK_THROWS_AS(Column::from_bytes("abc", {2, 2}, table), std::invalid_argument);
}

// The batch gather looks bytes up 16 at a time (AVX-512 permutes where the CPU has them): every
// one of the 256 entries, at every position in a row, and rows whose length is not a multiple
// of 16 must give exactly table[b].
TEST_CASE("Column: the vectorised byte lookup gives exactly the table's entry for every byte", "[column]") {
  gradflow::ByteTable table{};
  for (size_t b = 0; b < table.size(); ++b)  // distinct values, both signs, no pattern to guess
    table[b] = (static_cast<float>((b * 97) % 256) - 127.5f) / 3.0f;
  for (const int64_t row : {1, 15, 16, 17, 37, 784}) {
    const int64_t rows = 600 / row + 3;
    std::string bytes(static_cast<size_t>(rows * row), '\0');
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 7 + i / 256) % 256);
    const Column column = Column::from_bytes(bytes, {rows, row}, table);
    std::vector<int64_t> order;
    for (int64_t r = rows - 1; r >= 0; r -= 2) order.push_back(r);
    Tensor batch;
    column.gather(order, batch);
    REQUIRE(batch.size() == static_cast<int64_t>(order.size()) * row);
    int64_t mismatches = 0;
    for (size_t k = 0; k < order.size(); ++k)
      for (int64_t j = 0; j < row; ++j) {
        const float want = table[static_cast<unsigned char>(bytes[static_cast<size_t>(order[k] * row + j)])];
        if (std::memcmp(&batch[static_cast<int64_t>(k) * row + j], &want, sizeof want) != 0) ++mismatches;
      }
    INFO("row length " << row);
    CHECK(mismatches == 0);
  }
}

TEST_CASE("NaN and infinity are refused where they load, naming file, row and column", "[data_files][nonfinite]") {
  TempDir dir;
  const std::string path = dir / "bad.csv";
  SECTION("CSV: every spelling from_chars reads") {
    for (const auto& [cell, what] : {std::pair{"nan", "NaN"}, {"NaN", "NaN"}, {"-nan", "NaN"}, {"inf", "infinite"},
                                     {"+inf", "infinite"}, {"infinity", "infinite"}, {"-Infinity", "-infinite"}}) {
      write_file(path, std::string("1,2\n3,4\n5,") + cell + "\n");
      REQUIRE_THROWS_WITH(read_csv(path), path + ": row 3, column 2: '" + cell + "' is " + what +
                                              "; data must be finite numbers");
    }
  }
  SECTION("CSV after a header: the row is the file's line") {
    write_file(path, "a,b\n1,2\nnan,4\n");
    REQUIRE_THROWS_WITH(read_csv(path, {.header = true, .delimiter = ',', .columns = {}}), path + ": row 3, column 1: 'nan' is NaN; data must be finite numbers");
  }
  const std::string idx = dir / "bad.idx";
  SECTION("IDX float: the sample and the value within it, from 1") {
    write_file(idx, idx_header(0x0D, {2, 3}) + be_float(1) + be_float(2) + be_float(3) + be_float(4) +
                        be_float(std::numeric_limits<float>::quiet_NaN()) + be_float(6));
    REQUIRE_THROWS_WITH(read_idx(idx), idx + ": row 2, column 2: NaN; data must be finite numbers");
    write_file(idx, idx_header(0x0D, {2}) + be_float(-std::numeric_limits<float>::infinity()) + be_float(1));
    REQUIRE_THROWS_WITH(read_idx(idx), idx + ": row 1, column 1: -infinite; data must be finite numbers");
  }
  SECTION("IDX double: infinite, or beyond float range") {
    write_file(idx, idx_header(0x0E, {2}) + be_double(1) + be_double(std::numeric_limits<double>::infinity()));
    REQUIRE_THROWS_WITH(read_idx(idx), idx + ": row 2, column 1: infinite; data must be finite numbers");
    write_file(idx, idx_header(0x0E, {2}) + be_double(1e39) + be_double(1));
    REQUIRE_THROWS_WITH(read_idx(idx), idx + ": row 1, column 1: out of float range; data must be finite numbers");
  }
}
