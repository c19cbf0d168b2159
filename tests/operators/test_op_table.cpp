// The operator table (op_table.hpp) run through every check: a row per registered operator,
// the help text, gradients against finite differences, 1 and 2 threads bit for bit, and the
// ONNX form. Every failure names the row ("op" or "op_variant").
#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "gradcheck.hpp"
#include "op_table.hpp"
#include "support/compare.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

// The rows in turn, each with its name in every message; an exception fails that row only.
void for_each_row(const std::function<void(const OpRow&)>& check) {
  load_example_plugins(GRADFLOW_EXAMPLE_PLUGIN_DIR);
  for (const OpRow& row : op_table()) {
    INFO("operator table row " << row_name(row));
    try {
      check(row);
    } catch (const std::exception& e) {
      FAIL_CHECK("threw: " << e.what());
    }
  }
}

OpKind kind_of(const OpRow& row) { return entry(row.op).schema.kind; }

// Records nothing: OnnxExportable::export_onnx only needs somewhere to write, the table only its answer.
class NullOnnxWriter final : public OnnxNodeWriter {
 public:
  NullOnnxWriter(std::vector<Shape> input_shapes, Shape output_shape)
      : input_shapes_(std::move(input_shapes)), output_shape_(std::move(output_shape)) {
    for (size_t i = 0; i < input_shapes_.size(); ++i) inputs_.push_back("x" + std::to_string(i));
  }
  const std::vector<std::string>& inputs() const override { return inputs_; }
  const std::string& output() const override { return output_; }
  const std::vector<Shape>& input_shapes() const override { return input_shapes_; }
  const Shape& output_shape() const override { return output_shape_; }
  int opset() const override { return 17; }
  std::string unique_name(std::string_view hint) override { return std::string(hint) + std::to_string(++count_); }
  void add_node(const std::string&, const std::vector<std::string>&, const std::vector<std::string>&,
                const std::vector<OnnxAttribute>&) override {}
  std::string parameter(const Parameter& p) override { return "node." + p.name; }
  std::string initializer(const std::string& name, const Tensor&) override { return "node." + name; }
  std::string constant(std::string_view hint, const Tensor&) override { return unique_name(hint); }
  std::string int64_constant(std::string_view hint, const std::vector<int64_t>&, const Shape&) override {
    return unique_name(hint);
  }
  std::string batch_size() override { return "batch_size"; }

 private:
  std::vector<std::string> inputs_;
  std::string output_ = "y";
  std::vector<Shape> input_shapes_;
  Shape output_shape_;
  int count_ = 0;
};

}  // namespace

TEST_CASE("the operator table has a row for every registered operator", "[op_table]") {
  load_example_plugins(GRADFLOW_EXAMPLE_PLUGIN_DIR);
  for (const std::string& op : ops_without_row(default_registry()))
    FAIL_CHECK("operator '" << op << "' (" << entry(op).origin
                            << ") has no row in tests/operators/op_table.cpp: add one (docs/operators.md)");
  CHECK(default_registry().find("swish") != nullptr);  // the example plugins are in the registry
  for (const OpRow& row : op_table()) {
    INFO("row " << row_name(row));
    CHECK(default_registry().find(row.op) != nullptr);
  }
}

TEST_CASE("every registered operator describes itself: kind, summary, attribute help, factory",
          "[op_table][help]") {
  load_example_plugins(GRADFLOW_EXAMPLE_PLUGIN_DIR);
  for (const OpEntry* e : default_registry().entries()) {
    INFO("operator " << e->schema.name << " (" << e->origin << ")");
    CHECK_FALSE(e->schema.summary.empty());
    for (const AttrSpec& spec : e->schema.attributes) {
      INFO("attribute " << spec.name);
      CHECK_FALSE(spec.help.empty());
    }
    const bool optimizer = e->schema.kind == OpKind::Optimizer;  // one factory, of its kind
    CHECK(bool(e->make_optimizer) == optimizer);
    CHECK(bool(e->make_operator) == !optimizer);
  }
}

TEST_CASE("operator table: each op acts as its kind says", "[op_table][kind]") {
  for_each_row([](const OpRow& row) {
    RowRun run(row);
    const std::vector<Tensor> before = run.inputs;
    run.step();
    switch (run.kind) {
      case OpKind::Layer:  // one output per sample
        CHECK(run.output.rank() >= 1);
        if (!run.inputs.empty()) CHECK(run.output.dim(0) == run.inputs.at(0).dim(0));  // parameter has none
        break;
      case OpKind::Loss:  // a scalar for the batch
        CHECK(run.output.shape() == Shape{});
        break;
      case OpKind::Optimizer:  // moves every parameter
        for (size_t i = 0; i < before.size(); ++i) CHECK_FALSE(bit_identical(before[i], run.inputs[i]));
        break;
    }
  });
}

TEST_CASE("operator table: gradients of inputs and parameters match finite differences",
          "[op_table][gradcheck]") {
  for_each_row([](const OpRow& row) {
    if (kind_of(row) == OpKind::Optimizer) return;
    RowRun run(row);
    if (row.gradient == Gradient::StraightThrough) {  // gradient = grad_output, by contract
      run.step();
      for (size_t i = 0; i < run.inputs.size(); ++i)
        if (run.needs_grad[i]) CHECK(bit_identical(run.grads[i], run.r));
      return;
    }
    gradcheck(*run.op, run.inputs, run.needs_grad);
  });
}

TEST_CASE("operator table: results are bit-identical at 1 and 2 threads", "[op_table][determinism]") {
  // 64 times the row's batch, so that the work splits across threads.
  auto results_at = [](const OpRow& row, size_t threads) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    RowRun run(row, 64);
    for (int i = 0; i < 3; ++i) run.step();  // optimizers: moments after several steps
    return run.results();
  };
  for_each_row([&](const OpRow& row) { CHECK(bit_identical(results_at(row, 1), results_at(row, 2))); });
}

TEST_CASE("operator table: an op is exported to ONNX or says it has no ONNX form", "[op_table][onnx]") {
  for_each_row([](const OpRow& row) {
    const bool says_exported = row.onnx == Onnx::Exported;
    if (kind_of(row) != OpKind::Layer) {  // export writes the inference graph: no loss, no optimizer
      CHECK_FALSE(says_exported);
      if (kind_of(row) == OpKind::Optimizer) return;
    }
    RowRun run(row);
    std::vector<Shape> shapes;
    for (const Tensor& t : run.inputs) shapes.push_back(sample_shape(t));
    NullOnnxWriter writer(shapes, run.output.shape().empty() ? Shape{} : sample_shape(run.output));
    const auto* exportable = dynamic_cast<const OnnxExportable*>(run.op.get());
    CHECK((exportable && exportable->export_onnx(writer)) == says_exported);
  });
}
