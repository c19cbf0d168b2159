// Tensors: shapes, aligned storage charged to the memory budget (core/memory_budget.cpp).
#include "gradflow/tensor.hpp"

#include "core/memory_budget.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <new>
#include <stdexcept>
#include <utility>

namespace gradflow {

int64_t numel(const Shape& shape) {
  for (int64_t d : shape)
    if (d == 0) return 0;
  int64_t n = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, d, &n)) return std::numeric_limits<int64_t>::max();
  return n;
}

std::string to_string(const Shape& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

Shape batched(int64_t batch, const Shape& sample_shape) {
  Shape shape{batch};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  return shape;
}

namespace {
// From this size on, storage is mapped from the kernel: page-aligned zero pages, committed
// only when written.
constexpr size_t kMappedBytes = size_t{1} << 20;
}  // namespace

void detail::AlignedFree::operator()(float* p) const noexcept {
  if (mapped) ::munmap(p, static_cast<size_t>(bytes));
  else std::free(p);
  detail::refund_budget(bytes);
}

Tensor::Tensor(Shape shape) {
  resize(shape);
  if (!storage_.get_deleter().mapped) zero();  // fresh mapped storage is zeroes already
}

Tensor::Tensor(Shape shape, std::span<const float> values) {
  resize(shape);
  if (static_cast<int64_t>(values.size()) != size_)
    throw std::invalid_argument("Tensor: " + std::to_string(values.size()) +
                                " values for shape " + to_string(shape_));
  std::copy(values.begin(), values.end(), data());
}

Tensor::Tensor(Shape shape, std::initializer_list<float> values)
    : Tensor(std::move(shape), std::span<const float>(values.begin(), values.size())) {}

Tensor::Tensor(const Tensor& other) { copy_from(other); }

Tensor::Tensor(Tensor&& other) noexcept
    : shape_(std::move(other.shape_)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)),
      storage_(std::move(other.storage_)) {
  other.shape_.clear();
}

Tensor& Tensor::operator=(Tensor&& other) noexcept {
  if (this != &other) {
    shape_ = std::move(other.shape_);
    other.shape_.clear();
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    storage_ = std::move(other.storage_);  // frees (and refunds) this tensor's old storage
  }
  return *this;
}

Tensor& Tensor::operator=(const Tensor& other) {
  if (this != &other) copy_from(other);
  return *this;
}

// An empty tensor (default-constructed or moved-from: shape [] but no value, unlike a scalar)
// copies as empty; resizing to its shape would read one value from no storage.
void Tensor::copy_from(const Tensor& other) {
  if (other.size_ == 0) {
    shape_ = other.shape_;
    size_ = 0;
    return;
  }
  resize(other.shape_);
  std::copy(other.data(), other.data() + size_, data());
}

namespace {
// The element count of `shape`, or an exception when it is negative or too large; checked
// before the tensor changes, so a refused resize leaves it as it was.
int64_t checked_numel(const Shape& shape) {
  for (int64_t d : shape)
    if (d < 0) throw std::invalid_argument("Tensor: negative dimension in " + to_string(shape));
  const int64_t n = numel(shape);
  if (n > kMaxTensorElements)
    throw std::length_error("a tensor of shape " + to_string(shape) + " would hold " +
                            (n == std::numeric_limits<int64_t>::max() ? "more than 2^63" : std::to_string(n)) +
                            " values, over the limit of 2^31 (8 GiB) per tensor");
  return n;
}
}  // namespace

void Tensor::resize(const Shape& shape) {
  reserve(checked_numel(shape), shape);  // before the shape changes: a refused resize keeps it
  if (shape_ != shape) shape_ = shape;
}

void Tensor::resize(std::initializer_list<int64_t> dims) {
  // The same shape holding its values already (a default tensor's [] holds none, a scalar one).
  if (std::equal(dims.begin(), dims.end(), shape_.begin(), shape_.end())) {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    if (n == size_) return;
  }
  resize(Shape(dims));
}

void Tensor::resize(const Shape& like, int axis, int64_t extent) {
  const int r = static_cast<int>(like.size());
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r) throw std::out_of_range("Tensor::resize: axis out of range for " + to_string(like));
  const int64_t old_extent = shape_.size() == like.size() ? shape_[static_cast<size_t>(axis)] : -1;
  shape_.assign(like.begin(), like.end());  // reuses the vector's capacity
  shape_[static_cast<size_t>(axis)] = extent;
  try {
    reserve(checked_numel(shape_), shape_);
  } catch (...) {
    if (old_extent >= 0) shape_[static_cast<size_t>(axis)] = old_extent;
    throw;
  }
}

void Tensor::reserve(int64_t n, const Shape& shape) {
  if (n > capacity_) {
    constexpr size_t kAlign = 64;
    const size_t bytes = (static_cast<size_t>(n) * sizeof(float) + kAlign - 1) / kAlign * kAlign;
    detail::charge_budget(static_cast<int64_t>(bytes), shape);
    const bool mapped = bytes >= kMappedBytes;
    void* p = mapped ? ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                     : std::aligned_alloc(kAlign, bytes);
    if (p == nullptr || p == MAP_FAILED) {
      detail::refund_budget(static_cast<int64_t>(bytes));
      throw std::bad_alloc();
    }
    storage_.reset(static_cast<float*>(p));  // the deleter frees and refunds the old storage...
    storage_.get_deleter() = {static_cast<int64_t>(bytes), mapped};  // ...and now owns the new one
    capacity_ = n;
  }
  size_ = n;
}

int64_t Tensor::dim(int axis) const {
  const int r = rank();
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r)
    throw std::out_of_range("Tensor::dim: axis out of range for " + to_string(shape_));
  return shape_[static_cast<size_t>(axis)];
}

void Tensor::fill(float value) { std::fill(data(), data() + size_, value); }

}  // namespace gradflow
