// The byte-level `text:` data source: windows, offsets, strides, globs, exclude, parts, and an
// exact message for each mistake. Fixture files are written into a fresh temp folder per test.
#include <catch2/catch.hpp>

#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "gradflow/graph_file.hpp"
#include "spec/text_source.hpp"  // text_part
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using gradflow::Column;
using gradflow::DataSets;
using gradflow::Tensor;
using gradflow::test::TempDir;
using gradflow::test::write_file;
using Lines = std::vector<std::string>;

namespace {

// A graph with inputs x and y of shape [T] (a linear layer and mse need nothing else), whose
// data section is `data` (indented by two spaces under `data:`).
std::string graph(int T, const std::string& data) {
  return "graph: text\ninputs:\n  x: {shape: [" + std::to_string(T) + "]}\n  y: {shape: [" + std::to_string(T) +
         "]}\nnodes:\n  - {name: fc, op: linear, inputs: [x], units: " + std::to_string(T) +
         "}\n  - {name: loss, op: mse, inputs: [fc, y]}\n  - {name: opt, op: sgd, inputs: [loss], lr: 0.1}\ndata:\n" + data;
}

DataSets load_data(const TempDir& dir, const std::string& yaml) {
  return gradflow::load_graph_text(yaml, dir.path / "g.yaml", gradflow::default_registry()).data;
}

Lines errors_of(const TempDir& dir, const std::string& yaml) {
  Lines lines;
  try {
    load_data(dir, yaml);
  } catch (const gradflow::GraphError& e) {
    for (const auto& d : e.diagnostics()) lines.push_back(d.format());
  }
  return lines;
}

// Every sample of `column` as text (one string per window).
std::vector<std::string> windows(const Column& column) {
  std::vector<int64_t> all(static_cast<size_t>(column.rows()));
  std::iota(all.begin(), all.end(), int64_t{0});
  Tensor batch;
  column.gather(all, batch);
  std::vector<std::string> out;
  const int64_t T = column.shape()[1];
  for (int64_t k = 0; k < column.rows(); ++k) {
    std::string w;
    for (int64_t i = 0; i < T; ++i) w += static_cast<char>(static_cast<unsigned char>(batch[k * T + i]));
    out.push_back(w);
  }
  return out;
}

const std::string kDigits = "0123456789ABCDEFGHIJ";  // 20 bytes

}  // namespace

TEST_CASE("text windows: consecutive windows of T bytes, offset 1 targets, equal counts", "[text]") {
  TempDir dir;
  write_file(dir / "t.txt", kDigits);
  const DataSets data = load_data(dir, graph(4, "  train:\n    x: {text: t.txt, length: 4}\n"
                                                "    y: {text: t.txt, length: 4, offset: 1}\n"));
  // x alone has 5 windows (20 / 4); y's fifth would need byte 20: sample 4 is dropped for both.
  CHECK(data.train.size == 4);
  CHECK(windows(data.train.columns.at("x")) == std::vector<std::string>{"0123", "4567", "89AB", "CDEF"});
  CHECK(windows(data.train.columns.at("y")) == std::vector<std::string>{"1234", "5678", "9ABC", "DEFG"});
  CHECK(data.train.columns.at("x").is_bytes());
}

TEST_CASE("text windows: bytes are ids 0-255, whatever their value", "[text]") {
  TempDir dir;
  std::string bytes;
  for (int b = 0; b < 256; ++b) bytes += static_cast<char>(b);
  write_file(dir / "all.bin", bytes);
  const DataSets data = load_data(dir, graph(128, "  train:\n    x: {text: all.bin, length: 128}\n"
                                                  "    y: {text: all.bin, length: 128}\n"));
  REQUIRE(data.train.size == 2);
  Tensor batch;
  const std::vector<int64_t> second{1};
  data.train.columns.at("x").gather(second, batch);
  CHECK(batch[0] == 128.0f);
  CHECK(batch[127] == 255.0f);
  CHECK(data.train.columns.at("x").value(255) == 255.0f);
}

TEST_CASE("text windows: stride 1 overlaps without copying the corpus", "[text]") {
  TempDir dir;
  write_file(dir / "t.txt", kDigits);
  const DataSets data = load_data(dir, graph(4, "  train:\n    x: {text: t.txt, length: 4, stride: 1}\n"
                                                "    y: {text: t.txt, length: 4, stride: 1, offset: 1}\n"));
  CHECK(data.train.size == 16);  // x has 17 windows, y 16
  const auto x = windows(data.train.columns.at("x"));
  const auto y = windows(data.train.columns.at("y"));
  for (size_t k = 0; k < x.size(); ++k) {
    CHECK(x[k] == kDigits.substr(k, 4));
    CHECK(y[k] == kDigits.substr(k + 1, 4));  // the next-byte targets: x shifted by one
  }
  CHECK(data.train.columns.at("x").bytes() == 19);  // the span it reads, not 16 x 4
}

TEST_CASE("text windows: stride larger than the window, and an offset", "[text]") {
  TempDir dir;
  write_file(dir / "t.txt", kDigits);
  const DataSets data = load_data(dir, graph(3, "  train:\n    x: {text: t.txt, length: 3, stride: 5, offset: 2}\n"
                                                "    y: {text: t.txt, length: 3, stride: 5, offset: 3}\n"));
  // x alone would have a fourth window "HIJ"; y's fourth (bytes 18-20) runs past the end.
  CHECK(data.train.size == 3);
  CHECK(windows(data.train.columns.at("x")) == std::vector<std::string>{"234", "789", "CDE"});
  CHECK(windows(data.train.columns.at("y")) == std::vector<std::string>{"345", "89A", "DEF"});
}

TEST_CASE("text files: each pattern's matches sorted, patterns in list order, exclude", "[text]") {
  TempDir dir;
  fs::create_directories(dir.path / "corpus" / "sub");
  write_file(dir / "corpus/b.txt", "bb");
  write_file(dir / "corpus/a.txt", "aa");
  write_file(dir / "corpus/c.dat", "cc");
  write_file(dir / "corpus/B.txt", "BB");  // sorted by bytes: 'B' before 'a'
  write_file(dir / "extra", "ee");
  write_file(dir / "corpus/sub/d.txt", "dd");  // the folder `sub` itself is skipped by corpus/*
  auto text = [&](const std::string& source) {
    const DataSets data = load_data(dir, graph(2, "  train:\n    x: {" + source + ", length: 2}\n    y: {" + source +
                                                      ", length: 2}\n"));
    std::string all;
    for (const std::string& w : windows(data.train.columns.at("x"))) all += w;
    return all;
  };
  CHECK(text("text: corpus/*") == "BBaabbcc");
  CHECK(text("text: [extra, corpus/*.txt, corpus/sub/*]") == "eeBBaabbdd");
  CHECK(text("text: [corpus/*.dat, extra]") == "ccee");
  CHECK(text("text: corpus/*, exclude: [\"*.dat\", \"B*\"]") == "aabb");
  CHECK(text("text: \"corpus/*\", exclude: [\"*/corpus/a.txt\"]") == "BBbbcc");  // against the full path too
  CHECK(text("text: [" + (dir.path / "corpus" / "c.dat").string() + "]") == "cc");  // absolute paths
}

TEST_CASE("text part: floor(a * N) to floor(b * N), computed in double", "[text]") {
  TempDir dir;
  write_file(dir / "t.txt", kDigits);
  // 0.29 * 20 = 5.8 -> 5 (not 6, as rounding would give); 0.87 * 20 = 17.4 -> 17
  const DataSets data = load_data(dir, graph(3, "  train:\n    x: {text: t.txt, length: 3, part: [0.29, 0.87]}\n"
                                                "    y: {text: t.txt, length: 3, part: [0.29, 0.87], offset: 1}\n"
                                                "  validation:\n    x: {text: t.txt, length: 3, part: [0.8, 1]}\n"
                                                "    y: {text: t.txt, length: 3, part: [0.8, 1], offset: 1}\n"
                                                "  test:\n    x: {text: t.txt, length: 3, part: [0, 0.29]}\n"
                                                "    y: {text: t.txt, length: 3, part: [0, 0.29]}\n"));
  // train: bytes [5, 17); x alone fits 4 windows, y (offset 1) 3.
  CHECK(windows(data.train.columns.at("x")) == std::vector<std::string>{"567", "89A", "BCD"});
  CHECK(windows(data.train.columns.at("y")) == std::vector<std::string>{"678", "9AB", "CDE"});
  // validation: bytes [16, 20), exactly T + 1 bytes
  CHECK(windows(data.validation.columns.at("x")) == std::vector<std::string>{"GHI"});
  CHECK(windows(data.validation.columns.at("y")) == std::vector<std::string>{"HIJ"});
  CHECK(windows(data.test.columns.at("x")) == std::vector<std::string>{"012"});  // [0, 5)
  CHECK(gradflow::text_part(0.57, 1.0, 100).begin == 56);  // 0.57 * 100 = 56.99999999999999 in double
  CHECK(gradflow::text_part(0.9, 1.0, 2576674).begin == 2319006);
  CHECK(gradflow::text_part(0.0, 1.0, 2576674).end == 2576674);
}

TEST_CASE("text source errors name the data key and what was expected", "[text]") {
  TempDir dir;
  write_file(dir / "t.txt", kDigits);
  write_file(dir / "c.dat", "cc");
  const std::string g = (dir.path / "g.yaml").string();
  auto errors = [&](const std::string& x) {
    return errors_of(dir, graph(4, "  train:\n    x: " + x + "\n    y: {text: t.txt, length: 4}\n"));
  };
  CHECK(errors("{text: none/*.txt, length: 4}") ==
        Lines{g + ":11:15: error: data.train.x: no file matches 'none/*.txt' (looked for '" + (dir / "none/*.txt") + "')"});
  CHECK(errors("{text: [t.txt, \"*.dat\"], exclude: [\"*.dat\"], length: 4}") ==
        Lines{g + ":11:23: error: data.train.x: every file that '*.dat' matches is excluded by 'exclude' (looked for '" +
              (dir / "*.dat") + "')"});
  CHECK(errors("{text: missing.txt, length: 4}") ==
        Lines{g + ":11:15: error: data.train.x: cannot read '" + (dir / "missing.txt") + "': No such file or directory"});
  fs::create_directories(dir.path / "folder");
  CHECK(errors("{text: folder, length: 4}") ==
        Lines{g + ":11:15: error: data.train.x: cannot read '" + (dir / "folder") + "': it is a directory"});
  CHECK(errors("{text: t.txt}") ==
        Lines{g + ":11:8: error: data.train.x: 'length' is required: the window length T, as in the input's shape [T]"});
  CHECK(errors("{text: t.txt, length: 0}") == Lines{g + ":11:30: error: data.train.x: 'length' must be an integer >= 1, got '0'"});
  CHECK(errors("{text: t.txt, length: 5}") ==
        Lines{g + ":11:30: error: data.train.x: 'length' is 5 but input 'x' has shape [4]; a text source gives samples of shape [length]"});
  CHECK(errors("{text: t.txt, length: 4, offset: -1}") ==
        Lines{g + ":11:41: error: data.train.x: 'offset' must be an integer >= 0, got '-1'"});
  CHECK(errors("{text: t.txt, length: 4, stride: 0}") ==
        Lines{g + ":11:41: error: data.train.x: 'stride' must be an integer >= 1, got '0'"});
  for (const std::string part : {"[0.5]", "[0.5, 0.5]", "[0.6, 0.5]", "[-0.1, 0.5]", "[0, 1.5]", "[a, 1]", "0.5"})
    CHECK(errors("{text: t.txt, length: 4, part: " + part + "}") ==
          Lines{g + ":11:39: error: data.train.x: 'part' must be two fractions [a, b] with 0 <= a < b <= 1, got " +
                (part == "0.5" ? "'0.5'" : part) + ""});
  CHECK(errors("{text: t.txt, length: 4, part: [0.9, 1]}") ==
        Lines{g + ":11:39: error: data.train.x: the text's part [0.9, 1] holds 2 bytes (bytes 18 to 20 of 20), too few "
                  "for one window of length 4 at offset 0 (needs 4)"});
  CHECK(errors("{text: t.txt, length: 4, offset: 17}") ==
        Lines{g + ":11:15: error: data.train.x: the text's part [0, 1] holds 20 bytes (bytes 0 to 20 of 20), too few "
                  "for one window of length 4 at offset 17 (needs 21)"});
  CHECK(errors("{text: t.txt, length: 4, strides: 2}") ==
        Lines{g + ":11:33: error: data.train.x: unknown key 'strides' in a text source (did you mean 'stride'? expected "
                  "one of: text, length, offset, stride, exclude, part)"});
  CHECK(errors("{text: [], length: 4}") ==
        Lines{g + ":11:15: error: data.train.x: 'text' must be a file, a glob pattern or a list of them, got a list"});
  CHECK(errors("{text: t.txt, length: 4, exclude: {a: 1}}") ==
        Lines{g + ":11:42: error: data.train.x: 'exclude' must be a list of file name patterns, got a mapping"});
  // Several problems, all reported in one run.
  CHECK(errors("{text: t.txt, length: 0, stride: 0}").size() == 2);
}

TEST_CASE("a text source in validation and test parts names its split", "[text]") {
  TempDir dir;
  write_file(dir / "t.txt", kDigits);
  const std::string g = (dir.path / "g.yaml").string();
  CHECK(errors_of(dir, graph(4, "  train:\n    x: {text: t.txt, length: 4}\n    y: {text: t.txt, length: 4}\n"
                                "  validation:\n    x: {text: t.txt, length: 4, part: [0.5, 1], stride: -2}\n"
                                "    y: {text: t.txt, length: 4}\n")) ==
        Lines{g + ":14:57: error: data.validation.x: 'stride' must be an integer >= 1, got '-2'"});
}

TEST_CASE("the fortunes corpus as the contract reads it", "[text][fortunes]") {
  const fs::path fortunes = "/usr/share/games/fortunes";
  if (!fs::exists(fortunes / "fortunes")) {
    WARN("Debian's fortunes package is not installed (scripts/setup.sh --data): skipped");
    return;
  }
  TempDir dir;
  const std::string source = "text: /usr/share/games/fortunes/*, exclude: [\"*.dat\", \"*.u8\"], length: 128";
  const DataSets data = load_data(
      dir, graph(128, "  train:\n    x: {" + source + ", part: [0, 0.9]}\n    y: {" + source + ", part: [0, 0.9], offset: 1}\n" +
                          "  validation:\n    x: {" + source + ", part: [0.9, 1]}\n    y: {" + source +
                          ", part: [0.9, 1], offset: 1}\n"));
  // 2,576,674 bytes in 43 files: train [0, 2319006), validation [2319006, 2576674).
  CHECK(data.train.size == 18117);
  CHECK(data.validation.size == 2013);
  // One corpus shared by the four columns; y is x shifted by one byte.
  const auto x = windows(data.train.columns.at("x"));
  const auto y = windows(data.train.columns.at("y"));
  CHECK(x[0].substr(1) == y[0].substr(0, 127));
  CHECK(x[1][0] == y[0][127]);
}
