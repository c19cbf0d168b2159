// Embedding gradflow: load a graph file and a checkpoint, run inference on your own buffers.
//
//   auto p = gradflow::Predictor::load("graphs/xor.yaml", "xor.safetensors");
//   std::vector<float> in = {0, 0, 0, 1, 1, 0, 1, 1};      // 4 samples of x (2 values each)
//   std::vector<float> out = p.predict(in, 4);              // 4 samples of `out` (1 value each)
//
// Buffers are row-major, one sample after another. A sample's input is the values of the graph
// inputs that the outputs need, concatenated in the order the file's `inputs:` lists them (the
// same columns as `graph-runner predict --input CSV`); its output is the values of the
// outputs (`outputs:`, or the prediction input of the first loss), concatenated in order (the
// columns `graph-runner predict` prints). docs/library.md walks through it.
//
// Thread safety: a Predictor may be shared between threads. predict() holds an internal mutex,
// so concurrent calls on one Predictor are correct but run one after another; for parallel
// throughput give each thread its own Predictor (they share nothing). Each predict() is itself
// parallel on oneTBB, gradflow's only thread pool (PredictorOptions::threads bounds it).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gradflow/tensor.hpp"

namespace gradflow {

class Model;

struct PredictorOptions {
  // Worker threads for this predictor's work (a tbb::task_arena of that size); 0: all cores,
  // in the caller's arena.
  int threads = 0;
  // Samples run through the graph at once; a larger predict() call is split into batches of
  // this size, which bounds the memory the graph's activations take.
  int64_t max_batch = 1024;
};

// A graph input or output as a predictor sees it: its name and its per-sample shape.
struct PredictorTensor {
  std::string name;
  Shape shape;        // per sample, no batch dimension
  int64_t size = 0;   // values per sample: the product of `shape`
  int64_t offset = 0; // where its values start within a sample's input or output
};

class Predictor {
 public:
  // Parses and builds the graph (its `plugins:` are loaded into the default registry) and
  // loads the checkpoint's parameters. The graph's `data:` section is not read: no data file is
  // opened, so a graph deploys without its training data. Throws GraphError for a bad graph file and
  // CheckpointError for a checkpoint that is missing, corrupt or of another graph; both name
  // the file. Throws std::invalid_argument for bad options.
  static Predictor load(const std::filesystem::path& graph, const std::filesystem::path& checkpoint,
                        PredictorOptions options = {});

  Predictor(Predictor&&) noexcept;
  Predictor& operator=(Predictor&&) noexcept;
  Predictor(const Predictor&) = delete;
  Predictor& operator=(const Predictor&) = delete;
  ~Predictor();

  const std::string& graph_name() const;
  // The graph inputs one sample's input holds, in order (inputs that only a loss needs, like
  // a target, are not among them).
  const std::vector<PredictorTensor>& inputs() const;
  const std::vector<PredictorTensor>& outputs() const;
  // The class names of the file's `labels:`, one per class of the classifier's output, in class
  // order; empty when the file names none.
  const std::vector<std::string>& labels() const;
  int64_t input_size() const;   // values per sample in the input buffer
  int64_t output_size() const;  // values per sample in the output buffer

  // Runs `samples` samples: `input` must hold exactly input_size() * samples values and
  // `output` exactly output_size() * samples; otherwise std::invalid_argument, e.g.
  // "input has 5 values, expected 2 per sample x 3 samples = 6". Results do not depend on
  // max_batch, threads, or how samples are grouped into calls.
  void predict(std::span<const float> input, int64_t samples, std::span<float> output);
  std::vector<float> predict(std::span<const float> input, int64_t samples);

  // The built model, for what this interface does not cover (read-only: predict() owns it).
  const Model& model() const;

 private:
  struct Impl;
  explicit Predictor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gradflow
