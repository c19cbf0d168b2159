// op_table_cases OUT_DIR: writes one graph file per row of the operator table whose op has an
// ONNX form (op_table.hpp), and prints "NAME PATH" for each: tests/onnx/test_export.py trains,
// exports and runs each in ONNX Runtime against graph-runner predict. So the export test takes
// its cases from the one table.
//
// Each graph feeds every float input through a parameterised front node that keeps its shape
// (linear, or a 1x1 conv2d for an image), so that training moves something the checkpoint
// holds; trains on four random samples against an mse target; and outputs the row's node.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "gradflow/registry.hpp"
#include "op_table.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

std::string shape_text(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Shape sample_of(const Shape& batched) { return Shape(batched.begin() + 1, batched.end()); }

// "[[v, v, ...], [...]]": the samples of a batched tensor.
std::string samples_text(const Tensor& t) {
  const int64_t per = t.size() / t.shape()[0];
  std::ostringstream out;
  out << "[";
  for (int64_t i = 0; i < t.size(); ++i)
    out << (i % per == 0 ? (i ? "], [" : "[") : ", ") << t[i];
  out << "]]";
  return out.str();
}

// The node that feeds input `i` of sample shape `shape` to the row's node, or its graph input.
std::string front(size_t i, const Shape& shape, const Input& input, std::ostream& nodes) {
  const std::string x = "x" + std::to_string(i), f = "f" + std::to_string(i);
  if (input.values == Values::Ids || shape.empty() || shape.size() > 3) return x;
  if (shape.size() == 3)
    nodes << "  - {name: " << f << ", op: conv2d, inputs: [" << x << "], out_channels: " << shape[0]
          << ", kernel_size: 1}\n";
  else
    nodes << "  - {name: " << f << ", op: linear, inputs: [" << x << "], units: " << shape.back() << "}\n";
  // An op defined on positive values (log, sqrt): exp keeps them positive and relatively exact (a
  // sigmoid's tail, which ONNX Runtime computes to an absolute error only, would not).
  if (input.values == Values::Probability) {
    nodes << "  - {name: " << f << "p, op: exp, inputs: [" << f << "]}\n";
    return f + "p";
  }
  return f;
}

void write_case(const OpRow& row, const std::filesystem::path& path) {
  const RowRun run(row);
  const OpEntry& e = *default_registry().find(row.op);
  std::ostringstream inputs, nodes, data;
  std::string node = "  - {name: out, op: " + row.op + ", inputs: [";
  for (size_t i = 0; i < row.inputs.size(); ++i) {
    const Input& input = row.inputs[i];
    const Shape shape = sample_of(input.shape);
    inputs << "  x" << i << ": {shape: " << shape_text(shape) << "}\n";
    node += (i ? ", " : "") + front(i, shape, input, nodes);
    Shape four = input.shape;
    four[0] = 4;
    const Values values = input.values == Values::Ids ? Values::Ids : Values::Signed;
    data << "    x" << i << ": " << samples_text(input_values({four, values}, 100 + i)) << "\n";
  }
  node += "]";
  for (const auto& [name, value] : row.attrs) node += ", " + name + ": " + to_string(value);
  const Shape out = sample_of(run.output.shape());
  Shape four = run.output.shape();
  four[0] = 4;
  // A node without inputs (parameter) repeats its value over the batch, which predict and the
  // exported model take from a graph input: a second output reads one.
  const std::string beside = row.inputs.empty() ? "  - {name: beside, op: add, inputs: [out, t]}\n" : "";
  std::ofstream file(path);
  file << "graph: op_" << row_name(row) << "\nseed: 5\n";
  if (e.origin != "built-in") file << "plugins: [" << e.origin << "]\n";
  file << "inputs:\n" << inputs.str() << "  t: {shape: " << shape_text(out) << "}\nnodes:\n" << nodes.str()
       << node << "}\n  - {name: loss, op: mse, inputs: [out, t]}\n  - {name: opt, op: sgd, inputs: [loss], lr: 0.1}\n"
       << beside << "data:\n  train:\n" << data.str() << "    t: " << samples_text(input_values({four}, 99)) << "\n"
       << "train: {epochs: 3, batch_size: 4}\noutputs: [out" << (beside.empty() ? "" : ", beside") << "]\n";
  if (!file) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: op_table_cases OUT_DIR\n";
    return 2;
  }
  try {
    load_example_plugins(GRADFLOW_EXAMPLE_PLUGIN_DIR);
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    for (const OpRow& row : op_table()) {
      if (row.onnx != Onnx::Exported) continue;
      const std::filesystem::path path = dir / ("op_" + row_name(row) + ".yaml");
      write_case(row, path);
      std::cout << "op_" << row_name(row) << " " << path.string() << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "op_table_cases: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
