// Experiment behind docs/performance.md's "large MLP" section, not part of the build: can a
// gemm that packs the shared operand once per product close the gap between gradflow's gemm
// (serial OpenBLAS calls in TBB tiles, each packing the shared operand again) and OpenBLAS's
// own threaded driver? oneDNN's matmul (Debian's libdnnl-dev) takes a pre-packed B, so every
// TBB tile can share one packing. Prints, for C[M,N] = A[M,K]·B[K,N] row-major:
//   - GFLOP/s medians of OpenBLAS serial in 1, 2 and 4 TBB tiles and of oneDNN in 2 and 4
//     tiles (B packed once per product, by one reorder), interleaved round by round;
//   - each one's largest error against a double-precision product;
//   - heap allocations (operator new) per oneDNN execute, which gradflow's zero-allocation step
//     could not take.
// Build and run (apt-get install libdnnl-dev first):
//   g++ -O2 -std=c++20 bench/experiments/gemm_backends.cpp -ldnnl -ltbb -ldl -o /tmp/gemm_backends
//   OMP_NUM_THREADS=1 OPENBLAS_CORETYPE=SkylakeX /tmp/gemm_backends 2 1024 1024 1024
#include <cblas.h>
#include <dlfcn.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

namespace {
std::atomic<long> heap_allocations{0};
}  // namespace

// GCC 12 sees malloc'd memory reach free() through inlined std::allocator code and warns.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  heap_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {
using Clock = std::chrono::steady_clock;
using SgemmFn = void (*)(CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint, float, const float*,
                         blasint, const float*, blasint, float, float*, blasint);

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// One oneDNN matmul per tile shape, all tiles reading the same packed B. Each tile has its own
// scratchpad: with the library's shared one, two tiles at once gave wrong results (0.13 off).
struct OneDnnTiles {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  int64_t rows_per_tile;
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul matmul;
  dnnl::memory b_plain, b_packed;
  dnnl::reorder pack;
  std::vector<dnnl::memory> scratchpads;

  OneDnnTiles(int tiles, int64_t M, int64_t N, int64_t K, float* b)
      : rows_per_tile(M / tiles),
        pd(make_pd(engine, rows_per_tile, N, K)),
        matmul(pd),
        b_plain({{K, N}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::ab}, engine, b),
        b_packed(pd.weights_desc(), engine),
        pack(b_plain, b_packed) {
    for (int t = 0; t < tiles; ++t) scratchpads.emplace_back(pd.scratchpad_desc(), engine);
  }

  static dnnl::matmul::primitive_desc make_pd(const dnnl::engine& engine, int64_t m, int64_t N, int64_t K) {
    using md = dnnl::memory::desc;
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const dnnl::matmul::desc desc(md({m, K}, dt::f32, tag::ab), md({K, N}, dt::f32, tag::any),
                                  md({m, N}, dt::f32, tag::ab));
    return {desc, attr, engine};
  }

  void run(const float* A, float* C, int64_t N, int64_t K) {
    {
      dnnl::stream s(engine);
      pack.execute(s, b_plain, b_packed);
      s.wait();
    }
    tbb::parallel_for(0, static_cast<int>(scratchpads.size()), [&](int t) {
      dnnl::stream s(engine);
      dnnl::memory a(pd.src_desc(), engine, const_cast<float*>(A) + t * rows_per_tile * K);
      dnnl::memory c(pd.dst_desc(), engine, C + t * rows_per_tile * N);
      matmul.execute(s, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b_packed}, {DNNL_ARG_DST, c},
                         {DNNL_ARG_SCRATCHPAD, scratchpads[static_cast<size_t>(t)]}});
      s.wait();
    }, tbb::simple_partitioner());
  }
};

double worst_error(const std::vector<float>& A, const std::vector<float>& B, const std::vector<float>& C, int64_t M,
                   int64_t N, int64_t K) {
  double worst = 0;
  for (int64_t i = 0; i < M; i += 37)
    for (int64_t j = 0; j < N; j += 41) {
      double sum = 0;
      for (int64_t k = 0; k < K; ++k) sum += static_cast<double>(A[i * K + k]) * B[k * N + j];
      worst = std::max(worst, std::abs(sum - C[i * N + j]));
    }
  return worst;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s THREADS M N K\n", argv[0]);
    return 2;
  }
  const int threads = std::atoi(argv[1]);
  const int64_t M = std::atoll(argv[2]), N = std::atoll(argv[3]), K = std::atoll(argv[4]);
  setenv("OPENBLAS_NUM_THREADS", "1", 1);  // as gradflow's blas.cpp: one OpenBLAS thread per call
  void* openblas = dlopen("/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so", RTLD_NOW);
  if (!openblas) return std::fprintf(stderr, "%s\n", dlerror()), 1;
  const auto sgemm = reinterpret_cast<SgemmFn>(dlsym(openblas, "cblas_sgemm"));
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));

  std::vector<float> A(static_cast<size_t>(M * K)), B(static_cast<size_t>(K * N)), C(static_cast<size_t>(M * N));
  for (size_t i = 0; i < A.size(); ++i) A[i] = static_cast<float>(i % 17) * 0.01f;
  for (size_t i = 0; i < B.size(); ++i) B[i] = static_cast<float>(i % 13) * 0.02f;

  auto openblas_tiles = [&](int tiles) {
    return [&, tiles] {
      const int64_t rows = (M + tiles - 1) / tiles;
      tbb::parallel_for(0, tiles, [&](int t) {
        const int64_t m0 = t * rows, m1 = std::min(M, m0 + rows);
        sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m1 - m0), static_cast<int>(N),
              static_cast<int>(K), 1.0f, A.data() + m0 * K, static_cast<int>(K), B.data(), static_cast<int>(N), 0.0f,
              C.data() + m0 * N, static_cast<int>(N));
      }, tbb::simple_partitioner());
    };
  };
  OneDnnTiles onednn2(2, M, N, K, B.data()), onednn4(4, M, N, K, B.data());
  const std::vector<std::pair<std::string, std::function<void()>>> contenders = {
      {"OpenBLAS serial, 1 tile", openblas_tiles(1)},
      {"OpenBLAS serial, 2 TBB tiles", openblas_tiles(2)},
      {"OpenBLAS serial, 4 TBB tiles", openblas_tiles(4)},
      {"oneDNN, B packed once, 2 TBB tiles", [&] { onednn2.run(A.data(), C.data(), N, K); }},
      {"oneDNN, B packed once, 4 TBB tiles", [&] { onednn4.run(A.data(), C.data(), N, K); }}};

  std::vector<std::vector<double>> rates(contenders.size());
  std::vector<double> errors(contenders.size());
  for (size_t i = 0; i < contenders.size(); ++i) {
    contenders[i].second();
    errors[i] = worst_error(A, B, C, M, N, K);
  }
  const int rounds = 30, calls = 3;
  for (int r = 0; r < rounds; ++r)
    for (size_t i = 0; i < contenders.size(); ++i) {
      const auto start = Clock::now();
      for (int c = 0; c < calls; ++c) contenders[i].second();
      rates[i].push_back(2.0 * static_cast<double>(M * N * K) * calls / seconds_since(start) / 1e9);
    }
  std::printf("%lld x %lld x %lld, %d threads, medians of %d interleaved rounds:\n", static_cast<long long>(M),
              static_cast<long long>(N), static_cast<long long>(K), threads, rounds);
  for (size_t i = 0; i < contenders.size(); ++i) {
    std::sort(rates[i].begin(), rates[i].end());
    std::printf("  %-36s %6.1f GFLOP/s  (max error vs double %.2g)\n", contenders[i].first.c_str(),
                rates[i][rates[i].size() / 2], errors[i]);
  }
  const long before = heap_allocations.load();
  onednn2.run(A.data(), C.data(), N, K);
  std::printf("heap allocations in one oneDNN product (a reorder and 2 tile executes): %ld\n",
              heap_allocations.load() - before);
}
