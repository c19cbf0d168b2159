// generate: text from a byte-level sequence graph, one byte at a time. The graph's one data
// input is ids [T] and its output logits [T, C]; each new byte is drawn from the logits of the
// last real position of the window of the last T bytes. No key/value cache: each byte costs
// one forward pass of a whole window, so its cost does not grow with the prompt or the text.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <vector>

#include "command_line.hpp"
#include "commands.hpp"
#include "session.hpp"
#include "gradflow/checkpoint.hpp"
#include "gradflow/rng.hpp"

namespace gradflow::runner {

namespace {

struct GenerateArgs : CommonOptions {
  std::string weights;
  std::string prompt;
  int64_t length = 200;
  double temperature = 1.0;
  uint64_t sample_seed = 0;
};

// The graph as generate reads it: the input of ids [T] and the output of logits [T, C].
struct SequenceGraph {
  int input = -1, output = -1;
  int64_t length = 0, classes = 0;
};

SequenceGraph sequence_graph(const Model& model) {
  const std::string file = model.spec().file.string();
  const std::vector<int> outputs = model.output_values();
  if (outputs.size() != 1 || outputs[0] < 0)
    throw file_error(file,
                     fmt::format("generate needs exactly one output (logits [T, C]); the graph has {}", outputs.size()));
  const Value& out = model.values()[static_cast<size_t>(outputs[0])];
  const std::vector<int> inputs = model.inputs_needed_for(outputs);
  if (inputs.size() != 1)
    throw file_error(file, fmt::format("generate needs an output computed from one input of ids [T]; '{}' needs {} inputs",
                                       out.name, inputs.size()));
  const Value& in = model.values()[static_cast<size_t>(inputs[0])];
  if (in.sample_shape.size() != 1 || in.sample_shape[0] < 1)
    throw file_error(file, fmt::format("generate needs an input of ids [T]; input '{}' has shape {}", in.name,
                                       to_string(in.sample_shape)));
  const int64_t T = in.sample_shape[0];
  if (out.sample_shape.size() != 2 || out.sample_shape[0] != T || out.sample_shape[1] < 1)
    throw file_error(file, fmt::format("generate needs logits [T, C] with T = {} (input '{}'); output '{}' has shape {}", T,
                                       in.name, out.name, to_string(out.sample_shape)));
  if (out.sample_shape[1] > 256)
    throw file_error(file, fmt::format("generate draws bytes: output '{}' has {} classes, more than the 256 byte values",
                                       out.name, out.sample_shape[1]));
  return {inputs[0], outputs[0], T, out.sample_shape[1]};
}

// The next byte from one position's logits: the argmax at temperature 0 (the first of equal
// maxima), else a draw from softmax(logits / temperature), computed in double.
int64_t next_byte(const float* logits, int64_t classes, double temperature, Rng& rng, std::vector<double>& weights) {
  if (temperature == 0.0) return std::max_element(logits, logits + classes) - logits;
  double top = -std::numeric_limits<double>::infinity();
  for (int64_t c = 0; c < classes; ++c) top = std::max(top, static_cast<double>(logits[c]) / temperature);
  double total = 0.0;
  for (int64_t c = 0; c < classes; ++c)
    total += weights[static_cast<size_t>(c)] = std::exp(static_cast<double>(logits[c]) / temperature - top);
  double u = rng.uniform() * total;
  for (int64_t c = 0; c < classes; ++c) {
    u -= weights[static_cast<size_t>(c)];
    if (u < 0.0) return c;
  }
  return classes - 1;  // u within rounding of the total
}

int run_generate(const GenerateArgs& args) {
  Session session = open_session(args);
  Model& model = *session.model;
  const SequenceGraph g = sequence_graph(model);
  load_checkpoint(args.weights, model, LoadMode::WeightsOnly);
  model.set_training(false);

  Dataset window;
  window.size = 1;
  window.columns[model.values()[static_cast<size_t>(g.input)].name] = Tensor(Shape{1, g.length});
  Tensor& ids = window.columns.begin()->second.floats();
  const std::vector<int64_t> first{0};
  const std::vector<int> outputs{g.output};
  std::vector<double> weights(static_cast<size_t>(g.classes));
  Rng rng(args.sample_seed);

  // An empty prompt starts from one line break: the start of a line of text.
  std::string context = args.prompt.empty() ? std::string("\n") : args.prompt;
  std::fwrite(args.prompt.data(), 1, args.prompt.size(), stdout);
  std::fflush(stdout);
  for (int64_t n = 0; n < args.length; ++n) {
    // The last T bytes, padded at the end with zeros: a causal graph's logits at the last real
    // position do not depend on the padding.
    const int64_t count = std::min<int64_t>(g.length, static_cast<int64_t>(context.size()));
    const char* start = context.data() + context.size() - count;
    for (int64_t i = 0; i < g.length; ++i)
      ids[i] = i < count ? static_cast<float>(static_cast<unsigned char>(start[i])) : 0.0f;
    model.load_batch(window, first);
    model.forward_to(outputs);
    const float* logits = model.values()[static_cast<size_t>(g.output)].data.data() + (count - 1) * g.classes;
    const char byte = static_cast<char>(next_byte(logits, g.classes, args.temperature, rng, weights));
    context.push_back(byte);
    std::fputc(byte, stdout);
    std::fflush(stdout);  // text appears as it is drawn
  }
  return 0;
}

}  // namespace

Command add_generate(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* command = app.add_subcommand(
      "generate", "sample text from a byte-level sequence graph (ids [T] -> logits [T, C]), one byte at a time");
  add_common_options(*command, *args);
  command->add_option("--weights", args->weights, "checkpoint")->required()->check(existing_file("checkpoint"));
  command->add_option("--prompt", args->prompt, "text to continue (default: none; generation starts after a line break)");
  command->add_option("--length", args->length, "bytes to generate (default 200)")->check(whole_number(0));
  command->add_option("--temperature", args->temperature, "softmax temperature; 0 takes the most likely byte (default 1)")
      ->check(non_negative_number());
  command->add_option("--seed", args->sample_seed, "seed of the draws: the same seed gives the same text (default 0)");
  return {command, [args] { return run_generate(*args); }};
}

}  // namespace gradflow::runner
