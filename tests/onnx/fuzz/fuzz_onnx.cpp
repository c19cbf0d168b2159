// libFuzzer target: the ONNX importer (graph-runner import), a parser of untrusted files.
// import_model on arbitrary bytes; when a model converts, the graph text it wrote is loaded the
// way graph-runner import checks it, so the importer's output is fuzzed too. Any exception is a
// clean refusal; a crash, a sanitizer report or a leak is a finding (scripts/fuzz.sh onnx).
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "gradflow/graph_file.hpp"
#include "gradflow/model.hpp"
#include "gradflow/registry.hpp"
#include "gradflow/tensor.hpp"
#include "gradflow_onnx.hpp"

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  gradflow::set_memory_limit(int64_t{256} << 20);  // huge but legal shapes fail in milliseconds
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    const auto imported = gradflow::onnx_io::import_model(bytes, "fuzz.onnx", "fuzz", "fuzz.safetensors");
    gradflow::load_graph_text(imported.graph_text, "fuzz.yaml", gradflow::default_registry());
  } catch (const std::exception&) {
  }
  return 0;
}
