// libFuzzer target: graph-file text -> parse_graph_text -> Model::build with the data checks (the validated graph).
// Expected rejections are diagnostics or std::exception; anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "gradflow/diagnostics.hpp"
#include "gradflow/graph_file.hpp"
#include "gradflow/graph_spec.hpp"
#include "gradflow/model.hpp"
#include "gradflow/registry.hpp"
#include "gradflow/tensor.hpp"

// Graphs whose tensors are each legal but together take gigabytes (a [10000, 100000] weight
// is 4 GB) would make every such input slow, or an out-of-memory crash: a small budget
// refuses them at once, as std::length_error like any other rejection.
constexpr int64_t kFuzzMemoryLimit = int64_t{256} << 20;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  gradflow::set_memory_limit(kFuzzMemoryLimit);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const gradflow::Registry& registry = gradflow::default_registry();
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    gradflow::Diagnostics diagnostics;
    gradflow::ParseOptions options;
    // A plugins: list must not dlopen arbitrary paths from fuzz input.
    options.load_plugin = [](const std::filesystem::path&, const gradflow::SourceLocation&,
                             gradflow::Diagnostics&) {};
    gradflow::GraphFile file = gradflow::parse_graph_text(text, "fuzz.yaml", registry, diagnostics, options);
    if (!diagnostics.empty()) return 0;
    auto model = gradflow::Model::build(file.graph, registry, diagnostics,
                                        [&](const gradflow::Model& built, gradflow::Diagnostics& found) {
                                          gradflow::check_targets(built, file.data, found);
                                        });
    (void)model;
  } catch (const std::exception&) {
  }
  return 0;
}
