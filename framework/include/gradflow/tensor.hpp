// A float32 tensor: row-major, batch-first, 64-byte aligned storage.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gradflow {

using Shape = std::vector<int64_t>;

// The product of the dimensions; saturates at INT64_MAX instead of overflowing.
int64_t numel(const Shape& shape);

// The most values one tensor may hold (2^31 floats, 8 GiB): a graph that declares more (a
// typo'd shape or `units`) is refused with std::length_error naming the shape, not allocated.
inline constexpr int64_t kMaxTensorElements = int64_t{1} << 31;
std::string to_string(const Shape& shape);  // "[2, 4]"

// Prepends the batch dimension to a per-sample shape.
Shape batched(int64_t batch, const Shape& sample_shape);

// A process-wide budget for tensor storage: every Tensor allocation is counted, and one that
// would take the total over the limit throws std::length_error (naming the shape, its size,
// what is held and the limit) before allocating, so graphs whose tensors are each legal but
// together too large fail with a clear error instead of meeting the OOM killer.
// The default is the machine's physical memory, lowered to the cgroup's memory limit; the
// environment variable GRADFLOW_MEMORY_LIMIT (bytes, or with a K, M or G suffix) replaces it.
// The environment is read at the first allocation; a malformed value makes every allocation
// throw std::invalid_argument naming the variable until set_memory_limit replaces it.
void set_memory_limit(int64_t bytes);  // bytes >= 1; overrides the default and the environment
void reset_memory_limit();             // back to the default; re-reads GRADFLOW_MEMORY_LIMIT
int64_t memory_limit();
int64_t memory_in_use();  // bytes of tensor storage currently allocated in this process
// A GRADFLOW_MEMORY_LIMIT value in bytes: "1073741824", "512M", "8G" (K, M, G: powers of
// 1024, either case); anything else throws std::invalid_argument naming the variable.
int64_t parse_memory_limit(std::string_view text);

namespace detail {
// Frees tensor storage and returns its bytes to the memory budget: the deleter remembers the
// size, so every way a unique_ptr drops storage (reset, move-assignment, destruction) counts.
// (Outside Tensor: a nested class's member initializer is unusable until Tensor is complete.)
struct AlignedFree {
  int64_t bytes = 0;
  bool mapped = false;  // mmap'ed (large storage), so munmap
  void operator()(float* p) const noexcept;
};
}  // namespace detail

class Tensor {
 public:
  Tensor() = default;
  // Zero-filled. Large storage comes straight from the kernel as zero pages, which take no
  // memory until written: building a model whose tensors are never used (validate) costs none.
  explicit Tensor(Shape shape);
  Tensor(Shape shape, std::initializer_list<float> values);
  Tensor(Shape shape, std::span<const float> values);
  Tensor(const Tensor& other);
  Tensor& operator=(const Tensor& other);
  // A moved-from tensor is empty (no capacity), so resizing it later allocates afresh.
  Tensor(Tensor&& other) noexcept;
  Tensor& operator=(Tensor&& other) noexcept;

  // Changes the shape; keeps the storage when it is large enough, so a step whose batch
  // size does not grow never allocates. Contents are unspecified afterwards.
  void resize(const Shape& shape);
  // Resizes to `like` with axis `axis` (negative counts from the end) set to `extent`, without
  // building a temporary shape: the hot-path form for "same as the input but N columns".
  void resize(const Shape& like, int axis, int64_t extent);
  // resize({rows, cols}): builds no temporary Shape while the shape stays the same, so an
  // operator's scratch tensors resized every step allocate nothing.
  void resize(std::initializer_list<int64_t> dims);

  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int axis) const;  // negative axes count from the end
  int64_t size() const { return size_; }
  // The last axis and the product of all others: a matrix view for linear algebra.
  int64_t cols() const { return shape_.empty() ? 1 : shape_.back(); }
  int64_t rows() const { return cols() == 0 ? 0 : size_ / cols(); }

  float* data() { return storage_.get(); }
  const float* data() const { return storage_.get(); }
  std::span<float> values() { return {storage_.get(), static_cast<size_t>(size_)}; }
  std::span<const float> values() const { return {storage_.get(), static_cast<size_t>(size_)}; }
  float& operator[](int64_t i) { return storage_.get()[i]; }
  float operator[](int64_t i) const { return storage_.get()[i]; }

  void fill(float value);
  void zero() { fill(0.0f); }

 private:
  // Grows the storage to hold n values (charging the memory budget; `shape` names the
  // tensor in its error) and sets size_.
  void reserve(int64_t n, const Shape& shape);
  void copy_from(const Tensor& other);

  Shape shape_;
  int64_t size_ = 0;
  int64_t capacity_ = 0;
  std::unique_ptr<float[], detail::AlignedFree> storage_;
};

}  // namespace gradflow
