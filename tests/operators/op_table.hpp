// The operator table: the shapes and attributes to try for every registered operator, built-in
// and the example plugins (op_table.cpp holds the rows). test_op_table.cpp runs every row
// through the same checks (gradients against finite differences, 1 and 2 threads bit for bit,
// the help text, the ONNX form), test_op_table_allocations.cpp counts heap allocations in the
// steady-state step, and op_table_cases writes one graph per exported row for
// tests/onnx/test_export.py. A registered operator without a row fails the table, named.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gradflow/registry.hpp"
#include "gradflow/tensor.hpp"
#include "op_factory.hpp"

namespace gradflow::test {

// What values an input holds.
enum class Values {
  Signed,       // uniform in [-1.5, 1.5], at least 0.05 away from 0 (relu's, step's kink)
  Distinct,     // the same range, every value at least 0.05 from every other (max_pool2d's ties)
  Probability,  // uniform in [0.1, 0.9] (bce's prediction, targets that are probabilities)
  Ids,          // integers in [0, kIdRange): token ids, class indices; never differentiated
};
inline constexpr int64_t kIdRange = 4;

struct Input {
  Shape shape;  // batch first
  Values values = Values::Signed;
};

enum class Onnx {
  Exported,  // it is OnnxExportable and writes it; test_export.py runs the graph in ONNX Runtime
  None,      // it has no ONNX form (not OnnxExportable, or export_onnx returns false): losses, optimizers
};

enum class Gradient {
  FiniteDifferences,  // backward is the derivative of forward
  StraightThrough,    // backward passes grad_output through by contract (step)
};

struct OpRow {
  std::string op = {};
  std::string variant = {};  // tells rows of one op apart: "" for its first
  Overrides attrs = {};
  // A layer's or a loss's inputs; an optimizer's: the parameters it updates.
  std::vector<Input> inputs = {};
  Onnx onnx = Onnx::Exported;
  Gradient gradient = Gradient::FiniteDifferences;
};

// Every row, in the order written.
const std::vector<OpRow>& op_table();

// "op" or "op_variant": the row's name in messages and in the ONNX cases.
std::string row_name(const OpRow& row);

// The values of one input, reproducible from `seed`; `batch_scale` multiplies the batch
// dimension (the thread and allocation checks run a larger batch, so that work splits).
Tensor input_values(const Input& input, uint64_t seed, int64_t batch_scale = 1);

// The values of every input of `row`, each from its own seed (fixed by the row's name).
std::vector<Tensor> row_inputs(const OpRow& row, int64_t batch_scale = 1);

// One row's operator, ready to step: built through the registry with the row's attributes,
// shapes inferred from the inputs, parameters initialised from a fixed seed, in a training pass
// (dropout draws its mask, batch_norm uses batch statistics). An optimizer gets the row's
// inputs as its parameters, with fixed gradients.
struct RowRun {
  explicit RowRun(const OpRow& row, int64_t batch_scale = 1);

  // A layer or a loss: forward, then backward of L = sum(output * r). An optimizer: one step.
  void step();
  // What a step computed: the output, the input gradients and the parameter gradients; for an
  // optimizer the parameters after its steps. Compared bit for bit across thread counts.
  std::vector<float> results() const;

  const OpRow& row;
  OpKind kind;
  std::unique_ptr<Operator> op;
  std::unique_ptr<Optimizer> optimizer;
  std::vector<Tensor> inputs;        // an optimizer's parameters
  std::vector<bool> needs_grad;      // every input but ids
  std::vector<Tensor> grads;         // an optimizer's gradients
  std::vector<const Tensor*> input_ptrs;
  std::vector<Tensor*> grad_ptrs;
  Tensor output, r;
};

// Loads every example plugin (the libraries in `dir`, GRADFLOW_EXAMPLE_PLUGIN_DIR in the test
// binaries) into the default registry, once.
void load_example_plugins(const std::string& dir);

// The registered operators without a row, sorted.
std::vector<std::string> ops_without_row(const Registry& registry);

}  // namespace gradflow::test
