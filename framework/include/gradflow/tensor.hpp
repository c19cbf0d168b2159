// A float32 tensor: row-major, batch-first, 64-byte aligned storage.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
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

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape);  // zero-filled
  Tensor(Shape shape, std::initializer_list<float> values);
  Tensor(Shape shape, std::span<const float> values);
  Tensor(const Tensor& other);
  Tensor& operator=(const Tensor& other);
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;

  // Changes the shape; keeps the storage when it is large enough, so a step whose batch
  // size does not grow never allocates. Contents are unspecified afterwards.
  void resize(const Shape& shape);
  // Resizes to `like` with axis `axis` (negative counts from the end) set to `extent`, without
  // building a temporary shape: the hot-path form for "same as the input but N columns".
  void resize(const Shape& like, int axis, int64_t extent);

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
  void reserve(int64_t n);  // grows the storage to hold n values and sets size_

  struct AlignedFree {
    void operator()(float* p) const noexcept;
  };
  Shape shape_;
  int64_t size_ = 0;
  int64_t capacity_ = 0;
  std::unique_ptr<float[], AlignedFree> storage_;
};

}  // namespace gradflow
