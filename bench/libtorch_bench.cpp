// The LibTorch C++ twin of bench/torch_bench.py: the same workloads without Python's
// per-call overhead, so that gradflow is compared with torch's own kernels and autograd.
// Built only where libtorch-dev is installed (bench/CMakeLists.txt).
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace F = torch::nn::functional;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Bit-identical to gradflow_bench.cpp's synthetic().
std::pair<torch::Tensor, torch::Tensor> synthetic(int64_t n) {
  // In blocks of rows, so the int64/double temporaries do not inflate the peak memory.
  auto x = torch::empty({n, 784});
  for (int64_t r = 0; r < n; r += 4096) {
    const int64_t rows = std::min(n, r + 4096) - r;
    auto idx = torch::arange(r * 784, (r + rows) * 784, torch::kInt64);
    auto block = ((idx * static_cast<int64_t>(2654435761LL)) % static_cast<int64_t>(4294967296LL))
                     .to(torch::kDouble).div_(4294967296.0);
    x.slice(0, r, r + rows).copy_(block.view({rows, 784}));
  }
  return {x, torch::arange(n, torch::kInt64) % 10};
}

// The mnist workload's data, as gradflow_bench.cpp's synthetic_pixels(): uint8 pixels (the top
// byte of the same hash), kept as bytes the way torchvision keeps MNIST; each batch is converted
// with to_unit().
std::pair<torch::Tensor, torch::Tensor> synthetic_pixels(int64_t n) {
  auto x = torch::empty({n, 784}, torch::kUInt8);
  for (int64_t r = 0; r < n; r += 4096) {
    const int64_t rows = std::min(n, r + 4096) - r;
    auto idx = torch::arange(r * 784, (r + rows) * 784, torch::kInt64);
    auto block = ((idx * static_cast<int64_t>(2654435761LL)) % static_cast<int64_t>(4294967296LL))
                     .div(16777216, "floor")
                     .to(torch::kUInt8);
    x.slice(0, r, r + rows).copy_(block.view({rows, 784}));
  }
  return {x, torch::arange(n, torch::kInt64) % 10};
}

// The conv workload's fixed batch, as gradflow_bench.cpp's synthetic_images(): x [n, 1, 28, 28]
// and targets [n, 64], each filled by synthetic()'s formula from element 0.
torch::Tensor hashed(int64_t n, int64_t features) {
  auto idx = torch::arange(0, n * features, torch::kInt64);
  return ((idx * static_cast<int64_t>(2654435761LL)) % static_cast<int64_t>(4294967296LL))
      .to(torch::kDouble)
      .div_(4294967296.0)
      .to(torch::kFloat)
      .view({n, features});
}

// bench/graphs/fashion_cnn.yaml (graphs/fashion_mnist_cnn.yaml's network), LibTorch's default
// initialisation.
torch::nn::Sequential fashion_cnn() {
  using namespace torch::nn;
  return Sequential(Conv2d(Conv2dOptions(1, 32, 3).padding(1)), BatchNorm2d(32), ReLU(), MaxPool2d(2),
                    Conv2d(Conv2dOptions(32, 64, 3).padding(1)), BatchNorm2d(64), ReLU(), MaxPool2d(2),
                    Flatten(), Linear(64 * 7 * 7, 128), ReLU(), Dropout(0.25), Linear(128, 10));
}

// bench/graphs/conv.yaml: the CNN's two convolutions, its first max-pool between them, a global
// average pool for the mse.
torch::nn::Sequential conv_pair() {
  using namespace torch::nn;
  return Sequential(Conv2d(Conv2dOptions(1, 32, 3).padding(1)), MaxPool2d(2),
                    Conv2d(Conv2dOptions(32, 64, 3).padding(1)), AdaptiveAvgPool2d(1), Flatten());
}

// byte * (1/255) in float: the multiply, not a division by 255, rounds as gradflow's table.
torch::Tensor to_unit(const torch::Tensor& pixels) { return pixels.to(torch::kFloat).mul_(1.0 / 255); }

struct Wide : torch::nn::Module {
  std::vector<torch::nn::Sequential> towers;
  torch::nn::Linear logits{nullptr};
  Wide() {
    for (int t = 0; t < 4; ++t)
      towers.push_back(register_module(
          "t" + std::to_string(t),
          torch::nn::Sequential(torch::nn::Linear(784, 256), torch::nn::ReLU(),
                                torch::nn::Linear(256, 128), torch::nn::ReLU())));
    logits = register_module("logits", torch::nn::Linear(512, 10));
  }
  torch::Tensor forward(torch::Tensor x) {
    std::vector<torch::Tensor> parts;
    for (auto& t : towers) parts.push_back(t->forward(x));
    return logits->forward(torch::cat(parts, 1));
  }
};

template <class Net, class Loss>
torch::Tensor step(Net& net, torch::optim::Optimizer& opt, Loss& loss_fn, const torch::Tensor& x,
                   const torch::Tensor& y) {
  opt.zero_grad();
  auto loss = loss_fn(net->forward(x), y);
  loss.backward();
  opt.step();
  return loss;
}

template <class Net, class Loss>
std::vector<double> time_steps(Net& net, torch::optim::Optimizer& opt, Loss& loss_fn,
                               const torch::Tensor& x, const torch::Tensor& y, int64_t steps, int reps) {
  for (int64_t s = 0; s < std::max<int64_t>(3, steps / 10); ++s) step(net, opt, loss_fn, x, y);
  std::vector<double> out;
  for (int r = 0; r < reps; ++r) {
    const auto start = Clock::now();
    for (int64_t s = 0; s < steps; ++s) step(net, opt, loss_fn, x, y);
    out.push_back(seconds_since(start) / static_cast<double>(steps));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"LibTorch twin of the gradflow benchmark"};
  std::string workload;
  int threads = 1, reps = 5;
  int64_t batch = 0, steps = 0, samples = 60000;
  app.add_option("workload", workload, "xor | mnist | cnn | conv | large | wide | first_step")->required();
  app.add_option("--threads", threads);
  app.add_option("--reps", reps);
  app.add_option("--batch", batch);
  app.add_option("--steps", steps);
  app.add_option("--samples", samples);
  CLI11_PARSE(app, argc, argv);

  torch::set_num_threads(threads);
  torch::manual_seed(0);
  json out{{"side", "libtorch"}, {"workload", workload}, {"threads", threads}};
  auto ce = [](const torch::Tensor& logits, const torch::Tensor& y) { return F::cross_entropy(logits, y); };
  auto mse = [](const torch::Tensor& p, const torch::Tensor& y) { return F::mse_loss(p, y); };

  if (workload == "xor" || workload == "first_step") {
    torch::nn::Sequential net(torch::nn::Linear(2, 4), torch::nn::Sigmoid(), torch::nn::Linear(4, 1),
                              torch::nn::Sigmoid());
    torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.5));
    auto x = torch::tensor({0.f, 0.f, 0.f, 1.f, 1.f, 0.f, 1.f, 1.f}).view({4, 2});
    auto y = torch::tensor({0.f, 1.f, 1.f, 0.f}).view({4, 1});
    if (workload == "first_step") {
      step(net, opt, mse, x, y);
      out["samples"] = json::array();
    } else {
      out["batch"] = 4;
      out["metric"] = "s_per_step";
      out["samples"] = time_steps(net, opt, mse, x, y, steps ? steps : 20000, reps);
    }
  } else if (workload == "mnist") {
    batch = batch ? batch : 64;
    auto [x, y] = synthetic_pixels(samples);
    torch::nn::Sequential net(torch::nn::Linear(784, 256), torch::nn::ReLU(), torch::nn::Linear(256, 10));
    torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3));
    auto gen = at::detail::createCPUGenerator(1);
    std::vector<double> times;
    for (int r = 0; r < reps; ++r) {
      const auto start = Clock::now();
      auto perm = torch::randperm(samples, gen);
      for (int64_t i = 0; i < samples; i += batch) {
        auto idx = perm.slice(0, i, std::min(samples, i + batch));
        step(net, opt, ce, to_unit(x.index_select(0, idx)), y.index_select(0, idx)).item<float>();
      }
      times.push_back(seconds_since(start));
    }
    out["batch"] = batch;
    out["metric"] = "s_per_epoch";
    out["samples"] = times;
  } else if (workload == "cnn") {
    // As gradflow_bench.cpp's cnn: `steps` shuffled batches (default an epoch) per repetition,
    // after 3 warm-up steps, in train() mode; seconds per step.
    batch = batch ? batch : 64;
    auto [x, y] = synthetic_pixels(samples);
    x = x.view({samples, 1, 28, 28});
    auto net = fashion_cnn();
    net->train();
    torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3));
    auto gen = at::detail::createCPUGenerator(1);
    const int64_t per_epoch = (samples + batch - 1) / batch;
    const int64_t n = steps ? std::min(steps, per_epoch) : per_epoch;
    auto run = [&](int64_t count) {
      auto perm = torch::randperm(samples, gen);
      for (int64_t s = 0; s < count; ++s) {
        auto idx = perm.slice(0, s * batch, std::min(samples, (s + 1) * batch));
        step(net, opt, ce, to_unit(x.index_select(0, idx)), y.index_select(0, idx)).item<float>();
      }
    };
    run(std::min<int64_t>(3, n));
    std::vector<double> times;
    for (int r = 0; r < reps; ++r) {
      const auto start = Clock::now();
      run(n);
      times.push_back(seconds_since(start) / static_cast<double>(n));
    }
    out["batch"] = batch;
    out["metric"] = "s_per_step";
    out["steps"] = n;
    out["samples"] = times;
  } else if (workload == "conv") {
    batch = batch ? batch : 64;
    auto x = hashed(batch, 784).view({batch, 1, 28, 28});
    auto t = hashed(batch, 64);
    auto net = conv_pair();
    torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.01));
    auto s = time_steps(net, opt, mse, x, t, steps ? steps : 20, reps);
    // As gradflow_bench.cpp's conv_step_flops.
    const double flops = 2.0 * batch * (2 * (28.0 * 28 * 32 * 9) + 3 * (14.0 * 14 * 64 * 32 * 9));
    for (double& v : s) v = flops / v / 1e9;
    out["batch"] = batch;
    out["metric"] = "gflops";
    out["flops_per_step"] = flops;
    out["samples"] = s;
  } else if (workload == "large" || workload == "wide") {
    const bool large = workload == "large";
    batch = batch ? batch : (large ? 1024 : 256);
    auto [x, y] = synthetic(batch);
    std::vector<double> t;
    if (large) {
      torch::nn::Sequential net(torch::nn::Linear(784, 1024), torch::nn::ReLU(), torch::nn::Linear(1024, 1024),
                                torch::nn::ReLU(), torch::nn::Linear(1024, 10));
      torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.01));
      t = time_steps(net, opt, ce, x, y, steps ? steps : 10, reps);
      const double flops = 2.0 * batch * (2.0 * 784 * 1024 + 3.0 * 1024 * 1024 + 3.0 * 1024 * 10);
      for (double& s : t) s = flops / s / 1e9;
      out["metric"] = "gflops";
    } else {
      auto net = std::make_shared<Wide>();
      torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.01));
      t = time_steps(net, opt, ce, x, y, steps ? steps : 50, reps);
      out["metric"] = "s_per_step";
    }
    out["batch"] = batch;
    out["samples"] = t;
  } else {
    std::cerr << "libtorch-bench: unknown workload '" << workload << "'\n";
    return 2;
  }
  std::cout << out.dump() << std::endl;
  return 0;
}
