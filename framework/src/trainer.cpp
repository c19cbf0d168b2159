#include "gradflow/trainer.hpp"

#include <numeric>
#include <stdexcept>

namespace gradflow {

void RunningEvaluation::add(double batch_loss, std::optional<int64_t> correct, int64_t batch) {
  loss_sum_ += batch_loss * static_cast<double>(batch);
  samples_ += batch;
  if (correct) correct_ += *correct;
  else has_accuracy_ = false;
}

Evaluation RunningEvaluation::result() const {
  Evaluation e;
  e.samples = samples_;
  e.loss = mean_loss();
  if (has_accuracy_ && samples_ > 0) e.accuracy = static_cast<double>(correct_) / static_cast<double>(samples_);
  return e;
}

Trainer::Trainer(Model& model, TrainOptions options) : model_(model), options_(std::move(options)) {}

int64_t Trainer::batch_size_for(const Dataset& data) const {
  return options_.batch_size > 0 ? std::min(options_.batch_size, data.size) : data.size;
}

// Fisher-Yates from a stream derived from (seed, epoch): no RNG state to carry across epochs.
std::vector<int64_t> Trainer::epoch_order(int64_t size, int64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(size));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (!options_.shuffle) return order;
  Rng rng = Rng::derive(options_.seed, "shuffle", static_cast<uint64_t>(epoch));
  for (int64_t i = size - 1; i > 0; --i)
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(rng.below(static_cast<uint64_t>(i + 1)))]);
  return order;
}

Evaluation Trainer::train_epoch(const Dataset& data, int64_t epoch) {
  if (data.empty()) throw std::invalid_argument("the training data is empty");
  const std::vector<int64_t> order = epoch_order(data.size, epoch);
  const int64_t batch = batch_size_for(data);
  const int64_t batches = (data.size + batch - 1) / batch;
  RunningEvaluation running;
  std::span<const int64_t> all(order);
  for (int64_t b = 0; b < batches; ++b) {
    // The last batch keeps the remainder, as PyTorch's DataLoader does by default.
    const int64_t begin = b * batch;
    const auto indices = all.subspan(static_cast<size_t>(begin), static_cast<size_t>(std::min(batch, data.size - begin)));
    model_.load_batch(data, indices);
    model_.forward();
    running.add(model_.objective(), model_.correct_count(), static_cast<int64_t>(indices.size()));
    model_.backward();
    model_.optimizer_step();
    ++steps_;
    if (options_.on_batch) options_.on_batch(b + 1, batches, running.mean_loss());
  }
  return running.result();
}

Evaluation Trainer::evaluate(const Dataset& data) {
  RunningEvaluation running;
  if (data.empty()) return running.result();
  const int64_t batch = std::max<int64_t>(batch_size_for(data), std::min<int64_t>(data.size, 1024));
  std::vector<int64_t> order(static_cast<size_t>(data.size));
  std::iota(order.begin(), order.end(), int64_t{0});
  std::span<const int64_t> all(order);
  for (int64_t begin = 0; begin < data.size; begin += batch) {
    const auto indices = all.subspan(static_cast<size_t>(begin), static_cast<size_t>(std::min(batch, data.size - begin)));
    model_.load_batch(data, indices);
    model_.forward();
    running.add(model_.objective(), model_.correct_count(), static_cast<int64_t>(indices.size()));
  }
  return running.result();
}

}  // namespace gradflow
