// Trains a graph from C++: the run `graph-runner train` makes (epochs, validation, schedules,
// early stopping, checkpoints), reported through an observer of our own.
//
//   train-example graphs/xor.yaml xor.safetensors
#include <gradflow/diagnostics.hpp>
#include <gradflow/graph_file.hpp>
#include <gradflow/registry.hpp>
#include <gradflow/training_run.hpp>

#include <cstdio>
#include <exception>

namespace {

// What we want to see of the run: a line every `every` epochs, and where the weights went.
class EveryNthEpoch final : public gradflow::TrainingObserver {
 public:
  explicit EveryNthEpoch(int64_t every) : every_(every) {}

  void epoch_done(const gradflow::EpochMetrics& m, int64_t step, bool /*stopping*/) override {
    if (m.epoch % every_ == 0) std::printf("epoch %lld, step %lld: loss %.6f\n", static_cast<long long>(m.epoch),
                                           static_cast<long long>(step), m.train.loss);
  }
  void saved(const std::filesystem::path& file) override { std::printf("saved %s\n", file.c_str()); }

 private:
  int64_t every_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s GRAPH CHECKPOINT\n", argv[0]);
    return 2;
  }
  try {
    // The graph and the data sets its `data:` section names.
    gradflow::LoadedGraph graph = gradflow::load_graph(argv[1], gradflow::default_registry());

    // The graph's own train: section; a program may change any of it (epochs, batch size, ...).
    gradflow::RunOptions options(graph.model->spec().train);
    options.save = argv[2];

    gradflow::TrainingRun run(*graph.model, graph.data, options);
    EveryNthEpoch shown(options.train.epochs / 4 > 0 ? options.train.epochs / 4 : 1);
    const gradflow::TrainingState done = run.run(shown);
    std::printf("trained %lld epochs, %lld steps\n", static_cast<long long>(done.epoch),
                static_cast<long long>(done.step));
    return 0;
  } catch (const gradflow::GraphError& e) {  // every problem of the graph file, one per line
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  } catch (const std::exception& e) {  // a checkpoint that cannot be written, say: the message names it
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
