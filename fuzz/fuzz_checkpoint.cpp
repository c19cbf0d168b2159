// libFuzzer target: the checkpoint reader. read_safetensors on arbitrary bytes, then, when
// the file parses, load_checkpoint into a small fixed model (weights-only and resume), the
// path graph-runner eval/--resume takes.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>

#include "fuzz_util.hpp"
#include "gradflow/checkpoint.hpp"
#include "gradflow/diagnostics.hpp"
#include "gradflow/graph_file.hpp"
#include "gradflow/graph_spec.hpp"
#include "gradflow/model.hpp"
#include "gradflow/registry.hpp"
#include "gradflow/safetensors.hpp"

namespace {

constexpr const char* kGraph = R"(graph: fuzz
seed: 7
inputs:
  x: {shape: [2]}
  y: {shape: [1]}
nodes:
  - {name: fc1,  op: linear,  inputs: [x],   units: 4}
  - {name: h1,   op: tanh,    inputs: [fc1]}
  - {name: fc2,  op: linear,  inputs: [h1],  units: 1}
  - {name: loss, op: mse,     inputs: [fc2, y]}
  - {name: opt,  op: adam,    inputs: [loss], lr: 0.1}
data:
  train:
    x: [[0, 0], [0, 1], [1, 0], [1, 1]]
    y: [[0], [1], [1], [0]]
train: {epochs: 1, batch_size: 4}
)";

std::unique_ptr<gradflow::Model> make_model() {
  gradflow::Diagnostics diagnostics;
  auto spec = gradflow::parse_graph_text(kGraph, "fuzz.yaml", gradflow::default_registry(),
                                         diagnostics);
  diagnostics.throw_if_any();
  auto model = gradflow::Model::build(spec.graph, gradflow::default_registry(), diagnostics);
  diagnostics.throw_if_any();
  model->init_parameters(7);
  return model;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static gradflow_fuzz::TempInput input(".safetensors");
  static std::unique_ptr<gradflow::Model> model = make_model();
  const auto& path = input.write(data, size);
  try {
    gradflow::TensorFile file = gradflow::read_safetensors(path);
    (void)file;
  } catch (const std::exception&) {
    return 0;
  }
  try {
    gradflow::load_checkpoint(path, *model, gradflow::LoadMode::WeightsOnly);
  } catch (const std::exception&) {
  }
  try {
    gradflow::load_checkpoint(path, *model, gradflow::LoadMode::Resume);
  } catch (const std::exception&) {
  }
  return 0;
}
