// safetensors checkpoints: round trips, the byte layout, hostile files crafted byte by byte,
// corruption, atomic writes, and an independent Python reader.
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "support/temp_dir.hpp"
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gradflow/safetensors.hpp"

namespace fs = std::filesystem;
using gradflow::CheckpointError;
using gradflow::read_safetensors;
using gradflow::Shape;
using gradflow::Tensor;
using gradflow::TensorFile;
using gradflow::write_safetensors;

namespace {

using gradflow::test::TempDir;

using gradflow::test::write_file;

std::string read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string u64_le(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s += static_cast<char>(v >> (8 * i));
  return s;
}

std::string f32_le(std::initializer_list<float> values) {
  std::string s;
  for (float f : values) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    for (int i = 0; i < 4; ++i) s += static_cast<char>(u >> (8 * i));
  }
  return s;
}

// A safetensors file from a header text and a data buffer, as another tool might write it.
std::string st_bytes(const std::string& header, const std::string& buffer) {
  return u64_le(header.size()) + header + buffer;
}

std::string crc_of(const std::string& bytes) {
  return std::to_string(
      crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         (a.size() == 0 ||
          std::memcmp(a.data(), b.data(), static_cast<size_t>(a.size()) * sizeof(float)) == 0);
}

TensorFile sample_file() {
  TensorFile file;
  file.tensors["fc1.weight"] = Tensor({2, 3}, {0.5f, -1.25f, 3e-8f, 1e30f, -0.0f, 7});
  file.tensors["fc1.bias"] = Tensor({2}, {0.1f, -0.2f});
  file.tensors["adam.step"] = Tensor(Shape{}, {42});  // a scalar
  file.tensors["empty"] = Tensor(Shape{0, 3});
  file.tensors["special"] = Tensor({3}, {std::numeric_limits<float>::infinity(),
                                         std::numeric_limits<float>::quiet_NaN(),
                                         std::numeric_limits<float>::denorm_min()});
  file.metadata["gradflow.graph"] = "xor";
  file.metadata["gradflow.epoch"] = "12";
  file.metadata["note"] = "h\xC3\xA9llo \"quoted\" \\ \xE2\x9C\x93";  // UTF-8 and escapes
  file.metadata["blank"] = "";
  return file;
}

}  // namespace

TEST_CASE("safetensors round trip keeps names, shapes, values and metadata", "[safetensors]") {
  TempDir dir;
  const std::string path = dir / "model.safetensors";
  const TensorFile written = sample_file();
  write_safetensors(path, written);
  const TensorFile read = read_safetensors(path);

  REQUIRE(read.tensors.size() == written.tensors.size());
  for (const auto& [name, tensor] : written.tensors) {
    INFO(name);
    REQUIRE(read.tensors.count(name) == 1);
    CHECK(same_bits(read.tensors.at(name), tensor));  // bitwise: -0, inf, NaN, subnormals
  }
  CHECK(read.metadata == written.metadata);  // the checksum key is not user metadata

  SECTION("an empty file and a rewrite") {
    write_safetensors(path, TensorFile{});
    const TensorFile empty = read_safetensors(path);
    CHECK(empty.tensors.empty());
    CHECK(empty.metadata.empty());
  }
}

TEST_CASE("safetensors writes the layout the format specifies", "[safetensors]") {
  TempDir dir;
  const std::string path = dir / "layout.safetensors";
  TensorFile file;
  file.tensors["b"] = Tensor({2}, {1, 2});
  file.tensors["a"] = Tensor({1, 1}, {3});
  file.metadata["k"] = "v";
  write_safetensors(path, file);

  const std::string raw = read_raw(path);
  REQUIRE(raw.size() >= 8);
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = length << 8 | static_cast<unsigned char>(raw[static_cast<size_t>(i)]);
  CHECK(length % 8 == 0);  // the data buffer starts 8-byte aligned
  const std::string buffer = f32_le({3, 1, 2});  // tensors in name order: a, then b
  REQUIRE(raw.size() == 8 + length + buffer.size());
  CHECK(raw.substr(8 + length) == buffer);
  std::string header = raw.substr(8, length);
  header.erase(header.find_last_not_of(' ') + 1);  // the padding is spaces
  // gradflow.header_crc32 covers the header as written without the two checksum keys.
  const std::string tensors = R"("a":{"data_offsets":[0,4],"dtype":"F32","shape":[1,1]},)"
                              R"("b":{"data_offsets":[4,12],"dtype":"F32","shape":[2]}})";
  const std::string header_crc = crc_of(R"({"__metadata__":{"k":"v"},)" + tensors);
  CHECK(header == R"({"__metadata__":{"gradflow.crc32":")" + crc_of(buffer) +
                      R"(","gradflow.header_crc32":")" + header_crc + R"(","k":"v"},)" + tensors);
}

TEST_CASE("safetensors reads files from other tools, without a checksum", "[safetensors]") {
  TempDir dir;
  const std::string path = dir / "torch.safetensors";
  // Offsets not in name order, metadata as PyTorch writes it, padding after the JSON.
  write_file(path, st_bytes(R"({"__metadata__":{"format":"pt"},)"
                            R"("w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},)"
                            R"("b":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}    )",
                            f32_le({9, 1.5f, -2})));
  const TensorFile file = read_safetensors(path);
  CHECK(file.metadata == std::map<std::string, std::string>{{"format", "pt"}});
  CHECK(same_bits(file.tensors.at("w"), Tensor({2}, {1.5f, -2})));
  CHECK(same_bits(file.tensors.at("b"), Tensor(Shape{}, {9})));

  write_file(path, st_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", f32_le({5})));
  const TensorFile bare = read_safetensors(path);  // no __metadata__ at all
  CHECK(bare.metadata.empty());
  CHECK(same_bits(bare.tensors.at("x"), Tensor({1}, {5})));
}

TEST_CASE("safetensors rejects malformed files with exact messages", "[safetensors]") {
  TempDir dir;
  const std::string path = dir / "bad.safetensors";
  auto reject = [&](const std::string& bytes, const std::string& message) {
    write_file(path, bytes);
    REQUIRE_THROWS_AS(read_safetensors(path), CheckpointError);
    REQUIRE_THROWS_WITH(read_safetensors(path), path + ": " + message);
  };
  auto tensor = [](const std::string& name, const std::string& body) {
    return "{\"" + name + "\":" + body + "}";
  };
  const std::string one = f32_le({1});

  SECTION("a file that cannot be opened") {
    REQUIRE_THROWS_WITH(read_safetensors(dir / "missing"),
                        dir / "missing" + ": cannot open: No such file or directory");
  }
  SECTION("shorter than the length field") {
    reject("", "file too short: 0 bytes, a safetensors file starts with an 8-byte header length");
    reject(std::string("\x05\0\0", 3), "file too short: 3 bytes, a safetensors file starts with an 8-byte header length");
  }
  SECTION("header length larger than the file: cut short, or another kind of file") {
    reject(u64_le(100) + "{}", "truncated: the header is 100 bytes long, but the file ends 2 bytes after its length field");
    const std::string not_safetensors =
        "not a safetensors file: it does not start with an 8-byte header length and a JSON header";
    reject(u64_le(UINT64_MAX) + "{}", not_safetensors);
    reject(u64_le(100) + "[]", not_safetensors);
    reject(u64_le(100), not_safetensors);
    reject("graph: xor\nseed: 7\ninputs:\n  x: {shape: [2]}\n", not_safetensors);  // a YAML file as --weights
  }
  SECTION("header not JSON") {
    reject(st_bytes("{not json}", ""), "header is not valid JSON (error at byte 3)");
    reject(st_bytes("", ""), "header is not valid JSON (error at byte 1)");
    reject(st_bytes("{\"\xff\":1}", ""), "header is not valid JSON (error at byte 3)");  // not UTF-8
  }
  SECTION("header not an object") {
    reject(st_bytes("[1, 2]", ""), "header is not a JSON object");
    reject(st_bytes("\"text\"", ""), "header is not a JSON object");
  }
  SECTION("metadata not an object of strings") {
    reject(st_bytes(R"({"__metadata__":[]})", ""), "__metadata__ is not an object");
    reject(st_bytes(R"({"__metadata__":{"epoch":3}})", ""), "metadata 'epoch' is not a string");
  }
  SECTION("an entry that is not an object or lacks a key") {
    reject(st_bytes(tensor("x", "[1]"), one), "tensor 'x' is not an object");
    reject(st_bytes(tensor("x", R"({"shape":[1],"data_offsets":[0,4]})"), one),
           "tensor 'x' has no dtype");
    reject(st_bytes(tensor("x", R"({"dtype":"F32","data_offsets":[0,4]})"), one),
           "tensor 'x' has no shape");
    reject(st_bytes(tensor("x", R"({"dtype":"F32","shape":[1]})"), one),
           "tensor 'x' has no data_offsets");
  }
  SECTION("a dtype other than F32 and I64") {
    reject(st_bytes(tensor("x", R"({"dtype":"F16","shape":[2],"data_offsets":[0,4]})"), one),
           "tensor 'x' has dtype F16; gradflow reads F32 (and I64 counters) only");
    reject(st_bytes(tensor("x", R"({"dtype":"I64","shape":[1],"data_offsets":[0,4]})"), one),
           "tensor 'x' has shape [1] (8 bytes) but data_offsets [0, 4] span 4 bytes");
    reject(st_bytes(tensor("x", R"({"dtype":32,"shape":[1],"data_offsets":[0,4]})"), one),
           "tensor 'x': dtype is not a string");
  }
  SECTION("a bad shape") {
    reject(st_bytes(tensor("x", R"({"dtype":"F32","shape":[2,-1],"data_offsets":[0,4]})"), one),
           "tensor 'x' has a negative dimension in shape [2, -1]");
    reject(st_bytes(tensor("x", R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})"), one),
           "tensor 'x': shape is not a list of integers");
    reject(st_bytes(tensor("x", R"({"dtype":"F32","shape":"1","data_offsets":[0,4]})"), one),
           "tensor 'x': shape is not a list of integers");
    reject(st_bytes(tensor("x", R"({"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4]})"), one),
           "tensor 'x': shape is too large");
    reject(st_bytes(tensor("x", R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]})"), one),
           "tensor 'x': shape [4294967296, 4294967296] is too large");
  }
  SECTION("shape and offsets disagree") {
    reject(st_bytes(tensor("x", R"({"dtype":"F32","shape":[2,3],"data_offsets":[0,20]})"),
                    std::string(20, '\0')),
           "tensor 'x' has shape [2, 3] (24 bytes) but data_offsets [0, 20] span 20 bytes");
  }
  SECTION("offsets malformed or out of range") {
    reject(st_bytes(tensor("x", R"({"dtype":"F32","shape":[1],"data_offsets":[0]})"), one),
           "tensor 'x': data_offsets is not a pair [begin, end] of non-negative integers");
    reject(st_bytes(tensor("x", R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})"), one),
           "tensor 'x': data_offsets is not a pair [begin, end] of non-negative integers");
    reject(st_bytes(tensor("x", R"({"dtype":"F32","shape":[1],"data_offsets":[8,4]})"), one),
           "tensor 'x': data_offsets [8, 4] end before they begin");
    reject(st_bytes(tensor("x", R"({"dtype":"F32","shape":[1],"data_offsets":[4,8]})"), one),
           "truncated: tensor 'x': data_offsets [4, 8] reach past the end of the 4-byte data buffer");
    reject(st_bytes(tensor("x", R"({"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,18446744073709551615]})"), one),
           "tensor 'x': data_offsets [18446744073709551612, 18446744073709551615] reach past the "
           "end of the 4-byte data buffer");
  }
  SECTION("overlapping tensors") {
    reject(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                    R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                    std::string(12, '\0')),
           "tensors 'a' and 'b' overlap in the data buffer");
    reject(st_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                    R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                    one),
           "tensors 'a' and 'b' overlap in the data buffer");
  }
  SECTION("tensors not covering the buffer") {
    reject(st_bytes(tensor("x", R"({"dtype":"F32","shape":[1],"data_offsets":[4,8]})"),
                    std::string(8, '\0')),
           "the data buffer has 4 unused bytes at [0, 4)");
    reject(st_bytes(tensor("x", R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})"),
                    std::string(6, '\0')),
           "the data buffer has 2 unused bytes at [4, 6)");
    reject(st_bytes("{}", "xyz"), "the data buffer has 3 unused bytes at [0, 3)");
  }
  SECTION("a checksum that is not a number") {
    reject(st_bytes(R"({"__metadata__":{"gradflow.crc32":"12ab"}})", ""),
           "metadata gradflow.crc32 is not a decimal CRC32: '12ab'");
    reject(st_bytes(R"({"__metadata__":{"gradflow.crc32":"4294967296"}})", ""),
           "metadata gradflow.crc32 is not a decimal CRC32: '4294967296'");
  }
}

TEST_CASE("safetensors detects corrupted and truncated files", "[safetensors]") {
  TempDir dir;
  const std::string path = dir / "model.safetensors";
  TensorFile file;
  file.tensors["w"] = Tensor({4}, {1, 2, 3, 4});
  write_safetensors(path, file);
  const std::string good = read_raw(path);
  const std::string buffer = f32_le({1, 2, 3, 4});
  REQUIRE(good.substr(good.size() - 16) == buffer);

  SECTION("a flipped bit in the data") {
    std::string bad = good;
    bad[bad.size() - 5] = static_cast<char>(bad[bad.size() - 5] ^ 0x10);
    write_file(path, bad);
    REQUIRE_THROWS_WITH(read_safetensors(path),
                        path + ": checksum mismatch: the file is corrupted (crc32 stored " +
                            crc_of(buffer) + ", computed " + crc_of(bad.substr(bad.size() - 16)) + ")");
  }
  SECTION("a truncated data buffer") {
    write_file(path, good.substr(0, good.size() - 3));
    REQUIRE_THROWS_WITH(read_safetensors(path),
                        path + ": truncated: tensor 'w': data_offsets [0, 16] reach past the end of the "
                               "13-byte data buffer");
  }
  SECTION("a truncated header") {
    write_file(path, good.substr(0, 20));
    const uint64_t length = good.size() - 8 - 16;
    REQUIRE_THROWS_WITH(read_safetensors(path),
                        path + ": truncated: the header is " + std::to_string(length) +
                            " bytes long, but the file ends 12 bytes after its length field");
  }
}

TEST_CASE("safetensors writes atomically and cleans up", "[safetensors]") {
  TempDir dir;
  const std::string path = dir / "model.safetensors";
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());

  SECTION("a missing directory: an error and nothing created") {
    const std::string nowhere = dir / "no/such/dir/model.safetensors";
    REQUIRE_THROWS_WITH(write_safetensors(nowhere, sample_file()),
                        nowhere + ": cannot create " + nowhere + ".tmp-" +
                            std::to_string(::getpid()) + ": No such file or directory");
    CHECK(dir.entries().empty());
  }
  SECTION("a successful write replaces the file and leaves no temp file") {
    write_file(path, "old contents");
    write_safetensors(path, sample_file());
    CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});
    CHECK(read_safetensors(path).tensors.size() == sample_file().tensors.size());
  }
  SECTION("a failed rename removes the temp file and keeps the target") {
    fs::create_directory(path);  // rename(2) cannot replace a directory with a file
    write_file(path + "/keep", "x");
    REQUIRE_THROWS_WITH(write_safetensors(path, sample_file()),
                        path + ": cannot rename " + tmp + " to it: Is a directory");
    CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});
    CHECK(read_raw(path + "/keep") == "x");
  }
  SECTION("an unwritable tensor set leaves the old file intact") {
    write_file(path, "old contents");
    TensorFile bad = sample_file();
    bad.tensors["__metadata__"] = Tensor({1}, {1});
    REQUIRE_THROWS_WITH(write_safetensors(path, bad), path + ": a tensor cannot be named __metadata__");
    bad = sample_file();
    bad.tensors["unset"] = Tensor();
    REQUIRE_THROWS_WITH(write_safetensors(path, bad),
                        path + ": tensor 'unset' has no storage (a default-constructed Tensor)");
    bad = sample_file();
    bad.tensors["bad\xff name"] = Tensor({1}, {1});
    REQUIRE_THROWS_WITH(write_safetensors(path, bad),
                        path + ": cannot encode the header: tensor names and metadata must be valid UTF-8");
    CHECK(read_raw(path) == "old contents");
    CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});
  }
}

TEST_CASE("an independent Python reader agrees with the writer", "[safetensors][python]") {
  if (std::system("python3 --version > /dev/null 2>&1") != 0) {
    WARN("skipped: python3 is not installed");
    return;
  }
  TempDir dir;
  const std::string path = dir / "model.safetensors";
  TensorFile file;
  file.tensors["fc1.weight"] = Tensor({2, 3}, {0.5f, -1.25f, 0.1f, 4, 5, 6});
  file.tensors["fc1.bias"] = Tensor({2}, {0.25f, -3});
  file.tensors["step"] = Tensor(Shape{}, {7});
  file.metadata["gradflow.graph"] = "xor";
  write_safetensors(path, file);

  const std::string script = std::string(GRADFLOW_SOURCE_DIR) + "/tests/framework/read_safetensors.py";
  const std::string command = "python3 '" + script + "' '" + path + "' --values 4 2>&1";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char chunk[4096];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, pipe)) > 0) output.append(chunk, n);
  const int status = ::pclose(pipe);
  INFO(output);
  REQUIRE(status == 0);

  std::vector<std::string> lines;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  const std::string crc = crc_of(f32_le({0.25f, -3, 0.5f, -1.25f, 0.1f, 4, 5, 6, 7}));
  CHECK(lines == std::vector<std::string>{
                     "fc1.bias F32 [2] 0.25 -3",
                     "fc1.weight F32 [2,3] 0.5 -1.25 0.100000001 4",
                     "step F32 [] 7",
                     lines.size() > 3 ? lines[3] : "",
                 });
  // The metadata line holds both checksums (the header one covers names, shapes and metadata).
  REQUIRE(lines.size() > 3);
  CHECK(lines[3].rfind(R"(__metadata__ {"gradflow.crc32": ")" + crc +
                           R"(", "gradflow.graph": "xor", "gradflow.header_crc32": ")", 0) == 0);

  // The script checks the checksum independently of zlib.
  std::string bad = read_raw(path);
  bad.back() = static_cast<char>(bad.back() ^ 1);
  write_file(path, bad);
  CHECK(std::system(("python3 '" + script + "' '" + path + "' > /dev/null 2>&1").c_str()) != 0);
}

TEST_CASE("I64 tensors (counters such as num_batches_tracked) round-trip as whole numbers", "[safetensors]") {
  TempDir dir;
  const std::string path = dir / "c.safetensors";
  TensorFile file;
  file.tensors["bn.num_batches_tracked"] = Tensor(Shape{}, {938.0f});
  file.tensors["bn.running_mean"] = Tensor(Shape{2}, {0.5f, -1.25f});
  file.integer_tensors.insert("bn.num_batches_tracked");
  write_safetensors(path, file);
  const TensorFile back = read_safetensors(path);
  CHECK(back.integer_tensors == std::set<std::string>{"bn.num_batches_tracked"});
  CHECK(back.tensors.at("bn.num_batches_tracked")[0] == 938.0f);
  CHECK(back.tensors.at("bn.running_mean")[1] == -1.25f);
  // The header says I64 with 8 bytes per value, as torch's state dict holds it.
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(bytes.find(R"("bn.num_batches_tracked":{"data_offsets":[0,8],"dtype":"I64","shape":[]})") != std::string::npos);
}
