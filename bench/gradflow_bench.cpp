// gradflow's side of the benchmark (bench/README.md): runs one workload at a given thread
// count and prints one JSON object with every repetition's figure; bench/run.py does the
// statistics and the comparison with the peers (bench/torch_bench.py, bench/libtorch_bench.cpp).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <tbb/global_control.h>

#include "gradflow/graph_file.hpp"
#include "gradflow/in_memory_dataset.hpp"
#include "gradflow/kernels.hpp"
#include "gradflow/model.hpp"
#include "gradflow/registry.hpp"
#include "gradflow/trainer.hpp"
#include "bench_data.hpp"

namespace gf = gradflow;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace gradflow::bench;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One training step on fixed rows: what a user's loop pays per step, data copy included.
void step(gf::Model& model, const gf::Dataset& data, const std::vector<int64_t>& rows) {
  model.load_batch(data, rows);
  model.forward();
  model.backward();
  model.optimizer_step();
}

// Times `reps` blocks of `steps` steps after a warm-up; returns seconds per step per block.
std::vector<double> time_steps(gf::Model& model, const gf::Dataset& data, int64_t batch,
                               int64_t steps, int reps) {
  std::vector<int64_t> rows(static_cast<size_t>(batch));
  std::iota(rows.begin(), rows.end(), int64_t{0});
  for (int64_t s = 0; s < std::max<int64_t>(3, steps / 10); ++s) step(model, data, rows);
  std::vector<double> out;
  for (int r = 0; r < reps; ++r) {
    const auto start = Clock::now();
    for (int64_t s = 0; s < steps; ++s) step(model, data, rows);
    out.push_back(seconds_since(start) / static_cast<double>(steps));
  }
  return out;
}

// The OpenBLAS files mapped in this process (/proc/self/maps) with the kernel family OpenBLAS
// chose, for bench/run.py to print next to the peers' (issue 17): gradflow loads OpenBLAS's
// pthreads build by path (framework/src/compute/blas.cpp), whatever the environment says.
// Asking for the core loads OpenBLAS if the workload did not, so the file is there to be read.
json openblas_mapped() {
  std::string core;
  try {
    core = gf::kernels::blas_core();
  } catch (const std::exception& e) {
    core = std::string("not loaded: ") + e.what();
  }
  json files = json::array();
  std::ifstream maps("/proc/self/maps");
  std::vector<std::string> seen;
  for (std::string line; std::getline(maps, line);) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    if (path.find("openblas") == std::string::npos && path.find("/libblas.so") == std::string::npos)
      continue;
    if (std::find(seen.begin(), seen.end(), path) != seen.end()) continue;
    seen.push_back(path);
    files.push_back({{"path", path}, {"core", core}});
  }
  return files;
}

// The multiply-adds of one training step of an MLP, times two: forward and weight gradient
// for every layer, input gradient for every layer but the first (its input is data).
double mlp_step_flops(int64_t batch, const std::vector<int64_t>& widths) {
  double flops = 0;
  for (size_t l = 0; l + 1 < widths.size(); ++l) {
    const double mnk = 2.0 * static_cast<double>(batch * widths[l] * widths[l + 1]);
    flops += (l == 0 ? 2 : 3) * mnk;
  }
  return flops;
}

// The conv workload's flops per step: forward and weight gradient of both convolutions, input
// gradient of conv2 only (conv1's input is data), 2 flops per multiply-add. The multiply-adds of
// one sample's forward pass: output positions x out channels x (in channels x 3 x 3).
double conv_step_flops(int64_t batch) {
  const double conv1 = 28.0 * 28 * 32 * (1 * 9), conv2 = 14.0 * 14 * 64 * (32 * 9);
  return 2.0 * static_cast<double>(batch) * (2 * conv1 + 3 * conv2);
}

// Training steps as an epoch runs them: shuffled batches of `batch` from `samples` rows, the
// calls of Trainer::train_epoch (gather, forward, loss read, backward, optimizer step); after
// 3 warm-up steps, `reps` blocks of `steps` steps; seconds per step per block. The cnn and
// transformer workloads.
std::vector<double> time_epoch_steps(gf::Model& model, const gf::Dataset& data, int64_t batch,
                                     int64_t steps, int reps, double& loss) {
  const int64_t samples = data.size;
  std::vector<int64_t> order(static_cast<size_t>(samples));
  std::mt19937_64 shuffle(1);
  int64_t global_step = 0;
  auto run = [&](int64_t count) {
    std::iota(order.begin(), order.end(), int64_t{0});
    std::shuffle(order.begin(), order.end(), shuffle);
    for (int64_t s = 0; s < count; ++s) {
      const int64_t begin = (s * batch) % samples;
      model.load_batch(data, std::span<const int64_t>(order).subspan(
                                 static_cast<size_t>(begin), static_cast<size_t>(std::min(batch, samples - begin))));
      model.set_training(true, global_step++, 0);
      model.forward();
      loss = model.objective();  // read every step, as the trainer and torch's .item() do
      model.backward();
      model.optimizer_step();
    }
  };
  run(std::min<int64_t>(3, steps));  // warm-up: buffers sized, pages touched
  std::vector<double> times;
  for (int r = 0; r < reps; ++r) {
    const auto start = Clock::now();
    run(steps);
    times.push_back(seconds_since(start) / static_cast<double>(steps));
  }
  return times;
}

// Bytes per second of sampling `length` bytes one at a time from the transformer: each byte is
// drawn (softmax at temperature 1, std::mt19937_64) from the logits at the last position of a
// forward pass in evaluation mode over the last T bytes, placed at the start of the [T] input
// (causal attention: the positions after them do not change those logits). No key/value cache:
// the whole window runs again for every byte, as torch_bench.py's generate does.
double generate_rate(gf::Model& model, std::vector<uint8_t> ctx, int64_t length, uint64_t seed) {
  constexpr int64_t T = 128, V = 256;
  const int head = model.find_value("head");
  gf::Dataset one;
  one.columns.emplace("x", gf::Tensor({1, T}));
  one.size = 1;
  const std::vector<int64_t> rows{0};
  std::mt19937_64 rng(seed);
  std::vector<double> probs(V);
  model.set_training(false);
  const auto start = Clock::now();
  for (int64_t n = 0; n < length; ++n) {
    const int64_t used = std::min<int64_t>(T, static_cast<int64_t>(ctx.size()));
    gf::Tensor& x = one.columns.at("x").floats();
    for (int64_t t = 0; t < T; ++t)
      x[t] = t < used ? static_cast<float>(ctx[ctx.size() - static_cast<size_t>(used - t)]) : 0.0f;
    model.load_batch(one, rows);
    model.forward_to({head});
    const float* logits = model.values()[static_cast<size_t>(head)].data.data() + (used - 1) * V;
    const float top = *std::max_element(logits, logits + V);
    for (int64_t c = 0; c < V; ++c) probs[static_cast<size_t>(c)] = std::exp(static_cast<double>(logits[c] - top));
    std::discrete_distribution<int> pick(probs.begin(), probs.end());
    ctx.push_back(static_cast<uint8_t>(pick(rng)));
  }
  return static_cast<double>(length) / seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gradflow benchmark driver: one workload, JSON on stdout"};
  std::string workload;
  int threads = 1, reps = 5;
  int64_t batch = 0, steps = 0, samples = 60000;
  std::string graphs = GRADFLOW_BENCH_GRAPHS;
  bool trace = false;
  int64_t seq = 128, prompt = 1, length = 64;
  app.add_option("workload", workload,
                 "xor | mnist | cnn | mobilenet | conv | large | wide | sgemm | transformer | attention | generate | lstm")->required();
  app.add_option("--seq", seq, "attention: the sequence length T (a graph attention_tT.yaml)");
  app.add_option("--prompt", prompt, "generate: prompt length in bytes (1 to 128)")->check(CLI::Range(1, 128));
  app.add_option("--length", length, "generate: bytes to sample")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads)->check(CLI::PositiveNumber);
  app.add_option("--reps", reps)->check(CLI::PositiveNumber);
  app.add_option("--batch", batch, "default: the workload's");
  app.add_option("--steps", steps, "steps per repetition (xor, cnn, conv, large, wide, sgemm)");
  app.add_option("--samples", samples, "training-set size (mnist, cnn, mobilenet; transformer, lstm: windows, default 18117)");
  app.add_option("--graphs", graphs, "directory of the bench graphs");
  app.add_flag("--trace", trace, "xor: also print the initial weights and first losses");
  CLI11_PARSE(app, argc, argv);

  tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                            static_cast<size_t>(threads));
  json out{{"side", "gradflow"}, {"workload", workload}, {"threads", threads}};
  auto load = [&](const char* file) {
    auto model = gf::load_graph(std::filesystem::path(graphs) / file, gf::default_registry()).model;
    model->init_parameters(model->spec().seed);
    return model;
  };

  try {
    if (workload == "xor") {
      auto model = load("xor.yaml");
      const auto data = xor_data();
      if (trace) {  // initial weights and five losses, for the cross-check with torch
        for (auto& p : model->parameters())
          out["init"][p.name] = std::vector<float>(p.value->values().begin(), p.value->values().end());
        const std::vector<int64_t> rows{0, 1, 2, 3};
        for (int s = 0; s < 5; ++s) {
          model->load_batch(data, rows);
          model->forward();
          out["losses"].push_back(model->objective());
          model->backward();
          model->optimizer_step();
        }
      }
      out["batch"] = 4;
      out["metric"] = "s_per_step";
      out["samples"] = time_steps(*model, data, 4, steps ? steps : 20000, reps);
    } else if (workload == "mnist") {
      auto model = load("mnist_mlp.yaml");
      batch = batch ? batch : 64;
      const auto data = synthetic_pixels(samples, {784}, 10);
      gf::Trainer trainer(*model, gf::TrainOptions::batches(batch, true, 1));
      std::vector<double> times;
      double loss = 0;
      for (int r = 0; r < reps; ++r) {
        const auto start = Clock::now();
        loss = trainer.train_epoch(data, r).loss;
        times.push_back(seconds_since(start));
      }
      out["batch"] = batch;
      out["metric"] = "s_per_epoch";
      out["samples"] = times;
      out["final_loss"] = loss;
    } else if (workload == "cnn" || workload == "mobilenet") {
      // Training steps of the Fashion-MNIST CNN (issue 13) as an epoch runs them: shuffled
      // batches gathered from `samples` uint8 images, the calls of Trainer::train_epoch. A
      // repetition is `steps` steps (default a whole epoch), so that a run, and torch's at 60 ms a
      // step, need not take whole epochs; bench/run.py scales the step to an epoch.
      // mobilenet: graphs/fashion_mnist_mobilenet.yaml's network (issue 24) on the same images.
      auto model = load(workload == "cnn" ? "fashion_cnn.yaml" : "mobilenet.yaml");
      batch = batch ? batch : 64;
      const auto data = synthetic_pixels(samples, {1, 28, 28}, 10);
      const int64_t per_epoch = (samples + batch - 1) / batch;
      const int64_t n = steps ? std::min(steps, per_epoch) : per_epoch;
      double loss = 0;
      const auto times = time_epoch_steps(*model, data, batch, n, reps, loss);
      out["batch"] = batch;
      out["metric"] = "s_per_step";
      out["steps"] = n;
      out["samples"] = times;
      out["final_loss"] = loss;
    } else if (workload == "transformer" || workload == "lstm") {
      // Training steps of graphs/fortunes_transformer.yaml's network (bench/graphs/transformer.yaml),
      // or graphs/fortunes_lstm.yaml's (bench/graphs/lstm.yaml), on synthetic bytes, shuffled
      // batch-32 windows: the calls of an epoch; seconds per step.
      auto model = load(workload == "lstm" ? "lstm.yaml" : "transformer.yaml");
      batch = batch ? batch : 32;
      const auto data = synthetic_bytes(samples == 60000 ? 18117 : samples, 128);
      const int64_t n = steps ? steps : 20;
      double loss = 0;
      out["samples"] = time_epoch_steps(*model, data, batch, n, reps, loss);
      out["batch"] = batch;
      out["metric"] = "s_per_step";
      out["steps"] = n;
      out["final_loss"] = loss;
    } else if (workload == "attention") {
      // One causal multihead_attention layer, forward and backward (bench/graphs/attention_tT.yaml).
      auto model = load(("attention_t" + std::to_string(seq) + ".yaml").c_str());
      batch = batch ? batch : (seq <= 128 ? 32 : 8);
      const auto data = attention_inputs(batch, seq, 128);
      out["samples"] = time_steps(*model, data, batch, steps ? steps : 20, reps);
      out["batch"] = batch;
      out["seq"] = seq;
      out["metric"] = "s_per_step";
    } else if (workload == "generate") {
      auto model = load("transformer.yaml");
      std::vector<uint8_t> ctx(static_cast<size_t>(prompt));
      for (size_t i = 0; i < ctx.size(); ++i) ctx[i] = static_cast<uint8_t>(hash32(static_cast<int64_t>(i)) >> 24);
      generate_rate(*model, ctx, 2, 0);  // warm-up
      std::vector<double> rates;
      for (int r = 0; r < reps; ++r) rates.push_back(generate_rate(*model, ctx, length, static_cast<uint64_t>(r)));
      out["prompt"] = prompt;
      out["length"] = length;
      out["kv_cache"] = false;
      out["metric"] = "bytes_per_s";
      out["samples"] = rates;
    } else if (workload == "conv") {
      // The CNN's two convolutions alone (bench/graphs/conv.yaml), fixed batch: GFLOP/s to set
      // against the sgemm ceiling.
      auto model = load("conv.yaml");
      batch = batch ? batch : 64;
      const auto data = synthetic_images(batch, 64);
      auto t = time_steps(*model, data, batch, steps ? steps : 20, reps);
      const double flops = conv_step_flops(batch);
      for (double& s : t) s = flops / s / 1e9;
      out["batch"] = batch;
      out["metric"] = "gflops";
      out["flops_per_step"] = flops;
      out["samples"] = t;
    } else if (workload == "large" || workload == "wide") {
      const bool large = workload == "large";
      auto model = load(large ? "large_mlp.yaml" : "wide.yaml");
      batch = batch ? batch : (large ? 1024 : 256);
      const auto data = synthetic(batch, 784, 10);
      auto t = time_steps(*model, data, batch, steps ? steps : (large ? 10 : 50), reps);
      out["batch"] = batch;
      if (large) {
        const double flops = mlp_step_flops(batch, {784, 1024, 1024, 10});
        out["metric"] = "gflops";
        out["flops_per_step"] = flops;
        for (double& s : t) s = flops / s / 1e9;
      } else {
        out["metric"] = "s_per_step";
      }
      out["samples"] = t;
    } else if (workload == "sgemm") {
      // The ceiling gradflow can reach: its own gemm (serial OpenBLAS in TBB row tiles).
      const int64_t n = batch ? batch : 1024;
      gf::Tensor a({n, n}), b({n, n}), c({n, n});
      a.fill(0.5f);
      b.fill(0.25f);
      const int64_t calls = steps ? steps : 20;
      gf::kernels::gemm(false, false, n, n, n, 1.0f, a.data(), b.data(), 0.0f, c.data());
      std::vector<double> rates;
      for (int r = 0; r < reps; ++r) {
        const auto start = Clock::now();
        for (int64_t i = 0; i < calls; ++i)
          gf::kernels::gemm(false, false, n, n, n, 1.0f, a.data(), b.data(), 0.0f, c.data());
        rates.push_back(2.0 * static_cast<double>(n * n * n) * static_cast<double>(calls) /
                        seconds_since(start) / 1e9);
      }
      out["batch"] = n;
      out["metric"] = "gflops";
      out["samples"] = rates;
    } else {
      std::cerr << "gradflow-bench: unknown workload '" << workload << "'\n";
      return 2;
    }
  } catch (const std::exception& e) {
    std::cerr << "gradflow-bench: " << workload << ": " << e.what() << "\n";
    return 1;
  }
  out["blas"] = openblas_mapped();
  std::cout << out.dump() << std::endl;
  return 0;
}
