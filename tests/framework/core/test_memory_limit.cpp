// The process-wide budget for tensor storage (tensor.hpp): a graph whose tensors are each
// legal but together too large is refused with a message naming the node and the sizes.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>

#include "framework/graph_fixtures.hpp"
#include "gradflow/tensor.hpp"

using namespace gradflow;
using Lines = std::vector<std::string>;

namespace {

constexpr int64_t kMiB = int64_t{1} << 20;
constexpr const char* kVariable = "GRADFLOW_MEMORY_LIMIT";

// Puts GRADFLOW_MEMORY_LIMIT and the default limit back as they were when the test began.
class RestoreDefaultLimit {
 public:
  RestoreDefaultLimit() {
    if (const char* value = std::getenv(kVariable)) saved_ = value;
  }
  ~RestoreDefaultLimit() {
    if (saved_) ::setenv(kVariable, saved_->c_str(), 1);
    else ::unsetenv(kVariable);
    try {
      reset_memory_limit();
    } catch (const std::exception&) {  // the variable was malformed before the test too
    }
  }
  RestoreDefaultLimit(const RestoreDefaultLimit&) = delete;
  RestoreDefaultLimit& operator=(const RestoreDefaultLimit&) = delete;

 private:
  std::optional<std::string> saved_;
};

// fc0's weight and gradient take 16 MiB each (plus 8 KiB of bias); fc1's weight needs 32 MiB
// more, over a 64 MiB limit.
const char* const kTwoLayers = R"(graph: two
inputs:
  x: {shape: [4096]}
  y: {shape: [8192]}
nodes:
  - {name: fc0, op: linear, inputs: [x], units: 1024}
  - {name: fc1, op: linear, inputs: [fc0], units: 8192}
  - {name: loss, op: mse, inputs: [fc1, y]}
  - {name: opt, op: sgd, inputs: [loss], lr: 0.1}
)";

}  // namespace

TEST_CASE("a graph over the memory limit is refused against the node, with the sizes", "[memory]") {
  const RestoreDefaultLimit restore;
  REQUIRE(memory_in_use() == 0);  // each test case runs in its own process
  set_memory_limit(64 * kMiB);
  CHECK(test::errors_of(kTwoLayers) ==
        Lines{"g.yaml:7:5: error: node 'fc1' (op linear): a tensor of shape [8192, 1024] needs 32.0 MiB; with 32.0 "
              "MiB already held that is over the memory limit of 64.0 MiB (set by set_memory_limit); its input is 'fc0' "
              "[1024]"});
  CHECK(memory_in_use() == 0);
  set_memory_limit(128 * kMiB);
  CHECK(test::errors_of(kTwoLayers).empty());
}

TEST_CASE("memory_in_use counts storage and goes back when tensors are freed", "[memory]") {
  const int64_t before = memory_in_use();
  {
    Tensor a({1000});  // 4,000 bytes, rounded up to the 64-byte alignment
    CHECK(memory_in_use() == before + 4032);
    Tensor b = a;
    CHECK(memory_in_use() == before + 2 * 4032);
    a.resize({10});  // shrinking keeps the storage
    CHECK(memory_in_use() == before + 2 * 4032);
    a.resize({2000});  // growing replaces it
    CHECK(memory_in_use() == before + 8000 + 4032);
    Tensor c = std::move(a);  // the storage moves; nothing is counted twice
    CHECK(memory_in_use() == before + 8000 + 4032);
    a.resize({16});  // a moved-from tensor allocates afresh
    CHECK(memory_in_use() == before + 8000 + 4032 + 64);
    b = std::move(c);  // b's old storage is freed
    CHECK(memory_in_use() == before + 8000 + 64);
  }
  CHECK(memory_in_use() == before);
  {
    auto model = test::build(test::kXor);
    model->init_parameters(7);
    CHECK(memory_in_use() > before);
  }
  CHECK(memory_in_use() == before);
}

TEST_CASE("a refused allocation changes neither the tensor nor the count", "[memory]") {
  const RestoreDefaultLimit restore;
  Tensor t({4}, {1, 2, 3, 4});
  const int64_t held = memory_in_use();
  set_memory_limit(held + 1024);
  CHECK_THROWS_AS(t.resize({1024}), std::length_error);
  CHECK_THROWS_AS(t.resize({4}, 0, 1024), std::length_error);
  CHECK(t.shape() == Shape{4});
  CHECK(t[3] == 4.0f);
  CHECK(memory_in_use() == held);
  CHECK_NOTHROW(t.resize({2, 2}));  // within the storage it has: no allocation
  // The per-tensor limit comes first and keeps its message.
  CHECK_THROWS_WITH(Tensor({int64_t{1} << 32}),
                    "a tensor of shape [4294967296] would hold 4294967296 values, over the limit of 2^31 (8 GiB) per "
                    "tensor");
}

TEST_CASE("GRADFLOW_MEMORY_LIMIT values", "[memory]") {
  CHECK(parse_memory_limit("1") == 1);
  CHECK(parse_memory_limit("1073741824") == int64_t{1} << 30);
  CHECK(parse_memory_limit("64k") == 64 * 1024);
  CHECK(parse_memory_limit("512M") == 512 * kMiB);
  CHECK(parse_memory_limit("2G") == int64_t{2} << 30);
  CHECK(parse_memory_limit("8589934591g") == (int64_t{8589934591} << 30));  // the largest that fits
  for (const char* bad : {"", "0", "-5", "2GB", "2 G", " 2G", "1.5G", "G", "lots", "8589934592G",
                          "99999999999999999999"}) {
    INFO(bad);
    CHECK_THROWS_WITH(parse_memory_limit(bad),
                      "GRADFLOW_MEMORY_LIMIT='" + std::string(bad) +
                          "' is not a memory size: expected a positive number of bytes, optionally with a K, M or G "
                          "suffix (e.g. 512M, 8G)");
  }
}

TEST_CASE("GRADFLOW_MEMORY_LIMIT sets the default limit; a malformed value is an error", "[memory]") {
  const RestoreDefaultLimit restore;
  ::setenv(kVariable, "3M", 1);
  reset_memory_limit();
  CHECK(memory_limit() == 3 * kMiB);
  CHECK_THROWS_WITH(Tensor({1 << 20}),
                    "a tensor of shape [1048576] needs 4.0 MiB; with 0 bytes already held that is over the memory "
                    "limit of 3.0 MiB (GRADFLOW_MEMORY_LIMIT=3M)");

  ::setenv(kVariable, "3 MB", 1);
  const std::string message =
      "GRADFLOW_MEMORY_LIMIT='3 MB' is not a memory size: expected a positive number of bytes, optionally with a K, "
      "M or G suffix (e.g. 512M, 8G)";
  CHECK_THROWS_WITH(reset_memory_limit(), message);
  CHECK_THROWS_WITH(Tensor({4}), message);  // every allocation reports it...
  CHECK_THROWS_WITH(memory_limit(), message);
  set_memory_limit(kMiB);  // ...until a limit is set
  CHECK_NOTHROW(Tensor({4}));

  ::unsetenv(kVariable);
  reset_memory_limit();
  CHECK(memory_limit() > 3 * kMiB);
}

TEST_CASE("the default limit is the machine's memory or less", "[memory]") {
  const RestoreDefaultLimit restore;
  ::unsetenv(kVariable);
  reset_memory_limit();
  const int64_t physical = int64_t{::sysconf(_SC_PHYS_PAGES)} * ::sysconf(_SC_PAGE_SIZE);
  CHECK(memory_limit() > 0);
  CHECK(memory_limit() <= physical);
  CHECK_THROWS_AS(set_memory_limit(0), std::invalid_argument);
  set_memory_limit(12345);
  CHECK(memory_limit() == 12345);
}
