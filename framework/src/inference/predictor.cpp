// Predictor: a built Model with its weights, fed from and read into the caller's buffers.
#include "gradflow/predictor.hpp"

#include <fmt/format.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <numeric>
#include <stdexcept>

#include "gradflow/checkpoint.hpp"
#include "gradflow/graph_file.hpp"
#include "gradflow/model.hpp"
#include "gradflow/plugin.hpp"
#include "gradflow/safetensors.hpp"

namespace gradflow {

struct Predictor::Impl {
  // Declared before the model: the model (its flow graphs attach to the arena) goes first.
  std::unique_ptr<tbb::task_arena> arena;
  std::unique_ptr<Model> model;
  int64_t max_batch = 1024;
  std::vector<int> output_ids;
  std::vector<PredictorTensor> inputs, outputs;
  int64_t input_size = 0, output_size = 0;
  // Reused across calls, so that steady-state predict() calls of one size do not allocate.
  Dataset batch;
  std::vector<int64_t> indices;
  std::mutex mutex;  // predict() mutates the model's activations

  template <class F>
  void run(F&& body) {
    if (arena)
      arena->execute(std::forward<F>(body));
    else
      body();
  }

  void run_batch(const float* input, int64_t n, float* output);
};

namespace {

std::vector<PredictorTensor> describe(const Model& model, const std::vector<int>& value_ids, int64_t& total) {
  std::vector<PredictorTensor> list;
  total = 0;
  for (int id : value_ids) {
    const Value& value = model.values()[static_cast<size_t>(id)];
    const int64_t size = numel(value.sample_shape);
    list.push_back({value.name, value.sample_shape, size, total});
    total += size;
  }
  return list;
}

// "input has 5 values, expected 2 per sample x 3 samples = 6"
void check_buffer(const char* what, size_t have, int64_t per_sample, int64_t samples) {
  const char* noun = samples == 1 ? "sample" : "samples";
  if (per_sample > 0 && samples > std::numeric_limits<int64_t>::max() / per_sample)
    throw std::invalid_argument(fmt::format("{} has {} values, expected {} per sample x {} {}, which overflows",
                                            what, have, per_sample, samples, noun));
  const int64_t expected = per_sample * samples;
  if (static_cast<uint64_t>(have) != static_cast<uint64_t>(expected))
    throw std::invalid_argument(fmt::format("{} has {} values, expected {} per sample x {} {} = {}", what, have,
                                            per_sample, samples, noun, expected));
}

// Loads the weights; when they do not fit and the checkpoint says which graph wrote it,
// adds that to the message (the usual cause: a checkpoint of another graph).
void load_weights(const std::filesystem::path& checkpoint, Model& model) {
  try {
    load_checkpoint(checkpoint, model, LoadMode::WeightsOnly);
  } catch (const CheckpointError& e) {
    std::string other;
    try {
      const TensorFile file = read_safetensors(checkpoint);
      auto it = file.metadata.find("gradflow.graph");
      if (it != file.metadata.end() && it->second != model.spec().name) other = it->second;
    } catch (const std::exception&) {
      // Unreadable: the first message already says so.
    }
    if (other.empty()) throw;
    throw CheckpointError(fmt::format("{} (the checkpoint is of graph '{}', this graph is '{}')", e.what(), other,
                                      model.spec().name),
                          e.where());
  }
}

}  // namespace

Predictor Predictor::load(const std::filesystem::path& graph, const std::filesystem::path& checkpoint,
                          PredictorOptions options) {
  if (options.threads < 0)
    throw std::invalid_argument(fmt::format("PredictorOptions::threads is {}, expected 0 (all cores) or more",
                                            options.threads));
  if (options.max_batch < 1)
    throw std::invalid_argument(fmt::format("PredictorOptions::max_batch is {}, expected 1 or more",
                                            options.max_batch));
  auto impl = std::make_unique<Impl>();
  impl->max_batch = options.max_batch;
  if (options.threads > 0) impl->arena = std::make_unique<tbb::task_arena>(options.threads);
  impl->run([&] {
    ParseOptions parse;
    parse.load_plugin = graph_plugin_loader(default_registry());  // the file's `plugins:`
    parse.read_data = false;  // deployed without its training data: `data:` is not read
    impl->model = load_graph(graph, default_registry(), parse).model;
    load_weights(checkpoint, *impl->model);
  });
  const Model& model = *impl->model;
  impl->output_ids = model.output_values();
  impl->inputs = describe(model, model.inputs_needed_for(impl->output_ids), impl->input_size);
  impl->outputs = describe(model, impl->output_ids, impl->output_size);
  return Predictor(std::move(impl));
}

Predictor::Predictor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Predictor::Predictor(Predictor&&) noexcept = default;
Predictor& Predictor::operator=(Predictor&&) noexcept = default;
Predictor::~Predictor() = default;

const std::string& Predictor::graph_name() const { return impl_->model->spec().name; }
const std::vector<PredictorTensor>& Predictor::inputs() const { return impl_->inputs; }
const std::vector<PredictorTensor>& Predictor::outputs() const { return impl_->outputs; }
const std::vector<std::string>& Predictor::labels() const { return impl_->model->spec().labels; }
int64_t Predictor::input_size() const { return impl_->input_size; }
int64_t Predictor::output_size() const { return impl_->output_size; }
const Model& Predictor::model() const { return *impl_->model; }

void Predictor::Impl::run_batch(const float* input, int64_t n, float* output) {
  // Scatter the samples' rows into one column per graph input...
  for (const PredictorTensor& in : inputs) {
    Tensor& column = batch.columns[in.name].floats();
    column.resize(batched(n, in.shape));
    for (int64_t r = 0; r < n; ++r)
      std::copy_n(input + r * input_size + in.offset, in.size, column.data() + r * in.size);
  }
  batch.size = n;
  indices.resize(static_cast<size_t>(n));
  std::iota(indices.begin(), indices.end(), int64_t{0});
  // ...run only what the outputs need...
  model->load_batch(batch, indices);
  model->forward_to(output_ids);
  // ...and gather the outputs back into rows.
  for (size_t o = 0; o < outputs.size(); ++o) {
    const PredictorTensor& out = outputs[o];
    const Tensor& t = model->values()[static_cast<size_t>(output_ids[o])].data;
    if (t.size() != n * out.size)
      throw std::logic_error(fmt::format("output '{}' holds {} values for {} samples of shape {}", out.name, t.size(),
                                         n, to_string(out.shape)));
    for (int64_t r = 0; r < n; ++r)
      std::copy_n(t.data() + r * out.size, out.size, output + r * output_size + out.offset);
  }
}

void Predictor::predict(std::span<const float> input, int64_t samples, std::span<float> output) {
  if (samples < 0) throw std::invalid_argument(fmt::format("samples is {}, expected 0 or more", samples));
  check_buffer("input", input.size(), impl_->input_size, samples);
  check_buffer("output", output.size(), impl_->output_size, samples);
  if (samples == 0) return;
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mutex);
  impl.run([&] {
    for (int64_t begin = 0; begin < samples; begin += impl.max_batch) {
      const int64_t n = std::min(impl.max_batch, samples - begin);
      impl.run_batch(input.data() + begin * impl.input_size, n, output.data() + begin * impl.output_size);
    }
  });
}

std::vector<float> Predictor::predict(std::span<const float> input, int64_t samples) {
  if (samples < 0) throw std::invalid_argument(fmt::format("samples is {}, expected 0 or more", samples));
  check_buffer("input", input.size(), impl_->input_size, samples);
  if (impl_->output_size > 0 && samples > std::numeric_limits<int64_t>::max() / impl_->output_size)
    throw std::invalid_argument(fmt::format("{} samples of {} output values each overflow", samples,
                                            impl_->output_size));
  std::vector<float> output(static_cast<size_t>(impl_->output_size * samples));
  predict(input, samples, output);
  return output;
}

}  // namespace gradflow
