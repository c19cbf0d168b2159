// Regression inputs kept from fuzzing and fault injection (docs/reliability.md): every file
// under tests/reliability/regressions/<entry point>/ goes through the same entry point as
// the libFuzzer target of that name (fuzz/fuzz_<entry point>.cpp). Each must be rejected
// with a std::exception (or accepted); a crash or sanitizer report fails the suite.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gradflow/checkpoint.hpp"
#include "gradflow/csv_idx_readers.hpp"
#include "gradflow/diagnostics.hpp"
#include "gradflow/graph_file.hpp"
#include "gradflow/graph_spec.hpp"
#include "gradflow/model.hpp"
#include "gradflow/registry.hpp"
#include "gradflow/safetensors.hpp"
#include "gradflow/tensor.hpp"

using namespace gradflow;
namespace fs = std::filesystem;

namespace {

const fs::path kRegressions = fs::path(GRADFLOW_SOURCE_DIR) / "tests/reliability/regressions";

std::vector<fs::path> inputs(const std::string& entry) {
  std::vector<fs::path> files;
  const fs::path dir = kRegressions / entry;
  if (fs::is_directory(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::unique_ptr<Model> xor_model() {
  auto model = load_graph(fs::path(GRADFLOW_SOURCE_DIR) / "graphs/xor.yaml", default_registry()).model;
  model->init_parameters(7);
  return model;
}

// The budget fuzz/fuzz_graph.cpp sets at start-up, for the length of one test.
constexpr int64_t kFuzzMemoryLimit = int64_t{256} << 20;
struct FuzzMemoryLimit {
  FuzzMemoryLimit() { set_memory_limit(kFuzzMemoryLimit); }
  ~FuzzMemoryLimit() { reset_memory_limit(); }
  FuzzMemoryLimit(const FuzzMemoryLimit&) = delete;
  FuzzMemoryLimit& operator=(const FuzzMemoryLimit&) = delete;
};

}  // namespace

TEST_CASE("graph regressions go through parse_graph_text and Model::build", "[reliability]") {
  const FuzzMemoryLimit limit;  // as in the fuzzer, so huge-but-legal graphs fail fast here too
  for (const fs::path& file : inputs("graph")) {
    INFO(file.string());
    bool refused = true;  // every input kept here is a bad graph: it must end in an error, quickly
    try {
      Diagnostics diagnostics;
      ParseOptions options;
      options.load_plugin = [](const fs::path&, const SourceLocation&, Diagnostics&) {};
      GraphFile parsed = parse_graph_text(slurp(file), "fuzz.yaml", default_registry(), diagnostics, options);
      if (diagnostics.empty())
        Model::build(parsed.graph, default_registry(), diagnostics,
                     [&](const Model& model, Diagnostics& found) { check_targets(model, parsed.data, found); });
      refused = !diagnostics.empty();
    } catch (const std::exception&) {
    }
    CHECK(refused);
  }
}

// Out-of-memory-sized graphs (units: 10^12, shape: [10^8, 10^8]) reached the allocator: a
// crash under ASan, bad_alloc or the OOM killer otherwise. Now a diagnostic names the node
// or the input and the shape.
TEST_CASE("out-of-memory-sized graphs are refused with a clear error", "[reliability]") {
  for (const char* name : {"huge_units.yaml", "huge_input_shape.yaml"}) {
    INFO(name);
    const fs::path file = kRegressions / "graph" / name;
    Diagnostics diagnostics;
    GraphFile parsed = parse_graph_text(slurp(file), "g.yaml", default_registry(), diagnostics);
    if (diagnostics.empty()) Model::build(parsed.graph, default_registry(), diagnostics);
    REQUIRE_FALSE(diagnostics.empty());
    const std::string first = diagnostics.list().front().format();
    CHECK((first.find("over the limit of 2^31") != std::string::npos ||
           first.find("expected 10000000000000000") != std::string::npos));
  }
  CHECK_THROWS_AS(Tensor(Shape{int64_t{1} << 40, int64_t{1} << 40}), std::length_error);
  CHECK(numel({int64_t{1} << 40, int64_t{1} << 40, 0}) == 0);
}

// Found by fuzz_graph (a timeout): every tensor legal, but fc1's weight and its gradient take
// 4 GB each, allocated and zeroed by shape inference, so validating took seconds and
// gigabytes, and a few such layers met the OOM killer. The memory budget refuses it first.
TEST_CASE("a graph over the memory budget is refused before it allocates", "[reliability]") {
  const FuzzMemoryLimit limit;
  const int64_t held = memory_in_use();
  Diagnostics diagnostics;
  GraphFile parsed = parse_graph_text(slurp(kRegressions / "graph" / "huge_valid_weight.yaml"), "g.yaml",
                                      default_registry(), diagnostics);
  REQUIRE(diagnostics.empty());
  CHECK(Model::build(parsed.graph, default_registry(), diagnostics) == nullptr);
  REQUIRE_FALSE(diagnostics.empty());
  CHECK_THAT(diagnostics.list().front().format(),
             Catch::StartsWith("g.yaml:6:5: error: node 'fc1' (op linear): a tensor of shape [10000, 100000] "
                               "needs 3.7 GiB; with ") &&
                 Catch::EndsWith("already held that is over the memory limit of 256.0 MiB (set by "
                                 "set_memory_limit); its input is 'x' [100000, 100000]"));
  CHECK(memory_in_use() == held);
}

TEST_CASE("csv and idx regressions go through read_csv and read_idx", "[reliability]") {
  for (const fs::path& file : inputs("csv")) {
    INFO(file.string());
    CHECK_THROWS_AS(read_csv(file), std::exception);
  }
  for (const fs::path& file : inputs("idx")) {
    INFO(file.string());
    CHECK_THROWS_AS(read_idx(file), std::exception);
  }
}

// Found by tests/reliability/faults.sh: the CRC covered only the tensor bytes, so 273 of 1,936
// single-byte flips of an xor checkpoint loaded: a renamed gradflow.crc32 key (checksum then
// skipped), epoch or step values (a resume at the wrong epoch), optimizer tensor names. These
// files were written before gradflow.header_crc32 existed; all must now be refused.
TEST_CASE("checkpoints with a corrupted header are refused", "[reliability][checkpoint]") {
  const auto files = inputs("checkpoint");
  REQUIRE(files.size() >= 4);
  auto model = xor_model();
  for (const fs::path& file : files) {
    INFO(file.string());
    CHECK_THROWS_AS(read_safetensors(file), CheckpointError);
    CHECK_THROWS_WITH(read_safetensors(file), Catch::Contains("checksum"));
    CHECK_THROWS_AS(load_checkpoint(file, *model, LoadMode::WeightsOnly), CheckpointError);
    CHECK_THROWS_AS(load_checkpoint(file, *model, LoadMode::Resume), CheckpointError);
  }
}

TEST_CASE("a header byte flip in a fresh checkpoint is refused by the header checksum",
          "[reliability][checkpoint]") {
  const fs::path dir = fs::temp_directory_path() / ("gradflow-rel-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto model = xor_model();
  save_checkpoint(dir / "c.safetensors", *model, TrainingState{20, 20, {}, {}});
  const std::string good = slurp(dir / "c.safetensors");
  const size_t at = good.find("\"gradflow.epoch\":\"20\"");
  REQUIRE(at != std::string::npos);
  std::string bad = good;
  bad[at + 18] = '3';  // epoch 20 -> 30: still valid JSON, still a number
  std::ofstream(dir / "bad.safetensors", std::ios::binary) << bad;
  CHECK_THROWS_WITH(read_safetensors(dir / "bad.safetensors"), Catch::Contains("the header is corrupted"));
  CHECK_NOTHROW(read_safetensors(dir / "c.safetensors"));
  fs::remove_all(dir);
}
