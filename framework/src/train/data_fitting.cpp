#include "data_fitting.hpp"

#include <algorithm>
#include <numeric>
#include <span>
#include <vector>

#include "gradflow/trainer.hpp"

namespace gradflow {

void fit_to_training_data(Model& model, const Dataset& train, int64_t batch) {
  if (train.empty()) return;
  const int64_t step = evaluation_batch(batch_size_for(batch, train.size), train.size, model.value_bytes_per_sample());
  std::vector<int64_t> order(static_cast<size_t>(train.size));
  std::iota(order.begin(), order.end(), int64_t{0});
  const std::span<const int64_t> all(order);
  for (int n : model.topological_order()) {
    const ComputeNode& node = model.nodes()[static_cast<size_t>(n)];
    auto* fitter = dynamic_cast<DataFitter*>(node.impl.get());
    if (!fitter) continue;
    const int input = node.inputs.front();
    fitter->begin_fit();
    for (int64_t begin = 0; begin < train.size; begin += step) {
      const int64_t count = std::min(step, train.size - begin);
      model.load_batch(train, all.subspan(static_cast<size_t>(begin), static_cast<size_t>(count)));
      model.set_training(false);
      model.forward_to({input});
      fitter->fit_batch(model.values()[static_cast<size_t>(input)].data);
    }
    fitter->end_fit();
  }
}

}  // namespace gradflow
