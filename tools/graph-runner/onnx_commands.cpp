// export: a trained graph's inference part as an ONNX model; import: an ONNX model as a graph
// file and a checkpoint. The format work is gradflow_onnx's (framework/src/onnx/).
#include "command_line.hpp"
#include "onnx_commands.hpp"

#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <memory>

#include "gradflow/atomic_file.hpp"
#include "gradflow/checkpoint.hpp"
#include "gradflow_onnx.hpp"
#include "session.hpp"

namespace gradflow::runner {

namespace {

struct ExportArgs : CommonOptions {
  std::string weights, output;
  int opset = onnx_io::kDefaultOpset;
};

int run_export(const ExportArgs& args) {
  Session session = open_session(args);
  load_checkpoint(args.weights, *session.model, LoadMode::WeightsOnly);
  onnx_io::export_model(*session.model, default_registry(), args.output, args.opset);
  fmt::print("wrote {} (ONNX opset {})\n", args.output, args.opset);
  return 0;
}

struct ImportArgs {
  std::string model, output, weights;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) throw file_error(path, "cannot read the file");
  return bytes;
}

// An error gradflow finds in the imported graph, told at the ONNX node it comes from: the
// graph file, whose lines it names, is never written.
GraphError at_onnx_nodes(const GraphError& error, const onnx_io::ImportedModel& imported,
                         const std::string& graph_file, const std::string& model_file) {
  std::vector<Diagnostic> diagnostics;
  for (const Diagnostic& d : error.diagnostics()) {
    if (d.where.file != graph_file) {
      diagnostics.push_back(d);
      continue;
    }
    auto origin = imported.origins.find(d.where.line);
    diagnostics.push_back({SourceLocation{model_file, 0, 0},
                           origin == imported.origins.end()
                               ? "the graph import makes of it is refused: " + d.message
                               : fmt::format("{}: gradflow refuses the node import makes of it: {}", origin->second,
                                             d.message)});
  }
  return GraphError(std::move(diagnostics));
}

// The graph written must load as it is with the weights written: checked before anything is
// written, so that a bad conversion never leaves a half-written pair of files.
void check_loads(const onnx_io::ImportedModel& imported, const std::string& graph_file,
                 const std::string& model_file) {
  LoadedGraph loaded = [&] {
    try {
      return load_graph_text(imported.graph_text, graph_file, default_registry());
    } catch (const GraphError& e) {
      throw at_onnx_nodes(e, imported, graph_file, model_file);
    }
  }();
  for (const ParamRef& p : loaded.model->parameters()) {
    auto it = imported.weights.tensors.find(p.name);
    if (it == imported.weights.tensors.end() || it->second.shape() != p.value->shape())
      throw file_error(model_file, fmt::format("import made no weight of shape {} for parameter '{}'",
                                               to_string(p.value->shape()), p.name));
  }
}

int run_import(const ImportArgs& args) {
  load_requested_plugins();
  const std::string graph_name = std::filesystem::path(args.output).stem().string();
  const onnx_io::ImportedModel imported =
      onnx_io::import_model(read_bytes(args.model), args.model, graph_name, args.weights);
  check_loads(imported, args.output, args.model);
  write_safetensors(args.weights, imported.weights);
  AtomicFile graph(args.output);
  graph.write(imported.graph_text);
  graph.commit();
  fmt::print("wrote {} and {} ({} weight tensors)\n", args.output, args.weights, imported.weights.tensors.size());
  return 0;
}

}  // namespace

Command add_export(CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* command = app.add_subcommand("export", "write the inference graph and its weights as an ONNX model");
  add_common_options(*command, *args);
  command->add_option("--weights", args->weights, "checkpoint")->required()->check(existing_file("checkpoint"));
  command->add_option("-o,--output", args->output, "ONNX file to write")->required();
  command->add_option("--opset", args->opset,
                      fmt::format("ONNX opset, {} to {} (default {})", onnx_io::kMinOpset, onnx_io::kMaxOpset,
                                  onnx_io::kDefaultOpset))
      ->check(CLI::Range(onnx_io::kMinOpset, onnx_io::kMaxOpset));
  return {command, [args] { return run_export(*args); }};
}

Command add_import(CLI::App& app) {
  auto args = std::make_shared<ImportArgs>();
  CLI::App* command = app.add_subcommand(
      "import", "write an ONNX model as a graph file and a checkpoint (add a loss, an optimizer and data to train it)");
  command->add_option("model", args->model, "ONNX model")->required()->check(existing_file("ONNX model"));
  command->add_option("-o,--output", args->output, "graph file to write (YAML)")->required();
  command->add_option("--weights", args->weights, "checkpoint to write (safetensors)")->required();
  add_plugin_option(*command);
  return {command, [args] { return run_import(*args); }};
}

}  // namespace gradflow::runner
