#include "gradflow/in_memory_dataset.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace gradflow {

namespace {

// target[i] = table[source[i]] for i < count: the byte columns' pixel-to-float step, once per
// value of every batch (9% of an MNIST epoch at batch 256 as a scalar loop).
void lookup_scalar(const unsigned char* source, int64_t count, const ByteTable& table, float* target) {
  for (int64_t i = 0; i < count; ++i) target[i] = table[source[i]];
}

#if defined(__x86_64__)
// The same lookup 16 bytes at a time with the whole table in 16 AVX-512 registers: eight
// two-register permutes pick by the low 5 bits of each byte, three rounds of blends by bits 5-7.
// A lookup, so exactly table[b]. With the prefetch in Column::gather it took the batch gather
// from 8.9% to about 5% of a batch-256 MNIST epoch (perf), where a gather instruction had given
// 1.3-1.7x on the loop (GCC emits no gathers for the scalar loop under its generic tuning).
__attribute__((target("avx512f"))) void lookup_avx512(const unsigned char* source, int64_t count,
                                                      const ByteTable& table, float* target) {
  __m512 t[16];
  for (int r = 0; r < 16; ++r) t[r] = _mm512_loadu_ps(table.data() + 16 * r);
  const __m512i bit5 = _mm512_set1_epi32(32), bit6 = _mm512_set1_epi32(64), bit7 = _mm512_set1_epi32(128);
  int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    // maskz with every lane set: the unmasked form trips GCC 12's -Wmaybe-uninitialized (PR105593)
    const __m512i b = _mm512_maskz_cvtepu8_epi32(
        0xFFFF, _mm_loadu_si128(reinterpret_cast<const __m128i*>(source + i)));
    __m512 q[8];
    for (int p = 0; p < 8; ++p) q[p] = _mm512_permutex2var_ps(t[2 * p], b, t[2 * p + 1]);
    const __mmask16 m5 = _mm512_test_epi32_mask(b, bit5);
    const __mmask16 m6 = _mm512_test_epi32_mask(b, bit6);
    const __mmask16 m7 = _mm512_test_epi32_mask(b, bit7);
    const __m512 low = _mm512_mask_blend_ps(m6, _mm512_mask_blend_ps(m5, q[0], q[1]),
                                            _mm512_mask_blend_ps(m5, q[2], q[3]));
    const __m512 high = _mm512_mask_blend_ps(m6, _mm512_mask_blend_ps(m5, q[4], q[5]),
                                             _mm512_mask_blend_ps(m5, q[6], q[7]));
    _mm512_storeu_ps(target + i, _mm512_mask_blend_ps(m7, low, high));
  }
  lookup_scalar(source + i, count - i, table, target + i);
}
#endif

using LookupFn = void (*)(const unsigned char*, int64_t, const ByteTable&, float*);

LookupFn choose_lookup() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return lookup_avx512;
#endif
  return lookup_scalar;
}

void prefetch(const unsigned char* bytes, int64_t count) {
  for (int64_t offset = 0; offset < count; offset += 64) __builtin_prefetch(bytes + offset);
}

void lookup(const unsigned char* source, int64_t count, const ByteTable& table, float* target) {
  static const LookupFn chosen = choose_lookup();
  chosen(source, count, table, target);
}

}  // namespace

void gather_rows(const Tensor& column, std::span<const int64_t> indices, Tensor& batch) {
  const int64_t row = column.rank() > 1 ? column.size() / column.dim(0) : 1;
  batch.resize(column.shape(), 0, static_cast<int64_t>(indices.size()));
  const float* source = column.data();
  float* target = batch.data();
  for (int64_t index : indices) {
    std::copy_n(source + index * row, row, target);
    target += row;
  }
}

Column Column::from_bytes(std::string bytes, Shape shape, const ByteTable& table) {
  if (shape.empty() || static_cast<int64_t>(bytes.size()) != numel(shape))
    throw std::invalid_argument("a byte column of shape " + to_string(shape) + " needs " +
                                std::to_string(numel(shape)) + " bytes, got " + std::to_string(bytes.size()));
  Column column;
  column.storage_ = Bytes{std::move(bytes), std::move(shape), table};
  return column;
}

Column Column::from_windows(std::shared_ptr<const std::string> bytes, int64_t first, int64_t stride, Shape shape,
                            const ByteTable& table) {
  const bool fits = bytes && shape.size() == 2 && shape[0] >= 0 && shape[1] >= 1 && first >= 0 && stride >= 1 &&
                    (shape[0] == 0 || first + (shape[0] - 1) * stride + shape[1] <= static_cast<int64_t>(bytes->size()));
  if (!fits)
    throw std::invalid_argument("windows of shape " + to_string(shape) + " from byte " + std::to_string(first) +
                                " with stride " + std::to_string(stride) + " do not fit their buffer");
  Column column;
  column.storage_ = Windows{std::move(bytes), first, stride, std::move(shape), table};
  return column;
}

const Shape& Column::shape() const {
  if (const Bytes* b = std::get_if<Bytes>(&storage_)) return b->shape;
  if (const Windows* w = std::get_if<Windows>(&storage_)) return w->shape;
  return std::get<Tensor>(storage_).shape();
}

int64_t Column::rows() const {
  const Shape& s = shape();
  return s.empty() ? 0 : s[0];
}

Shape Column::sample_shape() const {
  const Shape& s = shape();
  return s.empty() ? Shape{} : Shape(s.begin() + 1, s.end());
}

int64_t Column::value_count() const {
  if (const Bytes* b = std::get_if<Bytes>(&storage_)) return static_cast<int64_t>(b->values.size());
  if (const Windows* w = std::get_if<Windows>(&storage_)) return numel(w->shape);
  return std::get<Tensor>(storage_).size();
}

int64_t Column::row_size() const {
  const int64_t n = rows();
  return n == 0 ? 0 : value_count() / n;
}

float Column::value(int64_t i) const {
  if (const Bytes* b = std::get_if<Bytes>(&storage_))
    return b->table[static_cast<unsigned char>(b->values[static_cast<size_t>(i)])];
  if (const Windows* w = std::get_if<Windows>(&storage_)) return w->table[w->row(i / w->shape[1])[i % w->shape[1]]];
  return std::get<Tensor>(storage_)[i];
}

int64_t Column::bytes() const {
  if (const Bytes* b = std::get_if<Bytes>(&storage_)) return static_cast<int64_t>(b->values.size());
  if (const Windows* w = std::get_if<Windows>(&storage_))  // the span of the shared buffer it reads
    return w->shape[0] == 0 ? 0 : (w->shape[0] - 1) * w->stride + w->shape[1];
  return std::get<Tensor>(storage_).size() * static_cast<int64_t>(sizeof(float));
}

void Column::gather(std::span<const int64_t> indices, Tensor& batch) const {
  if (const Windows* w = std::get_if<Windows>(&storage_)) {
    // The corpus is a few MB: it stays in the caches, so no prefetch.
    const int64_t row = w->shape[1];
    batch.resize(w->shape, 0, static_cast<int64_t>(indices.size()));
    float* target = batch.data();
    for (int64_t index : indices) {
      lookup(w->row(index), row, w->table, target);
      target += row;
    }
    return;
  }
  const Bytes* b = std::get_if<Bytes>(&storage_);
  if (!b) return gather_rows(std::get<Tensor>(storage_), indices, batch);
  const int64_t row = row_size();
  batch.resize(b->shape, 0, static_cast<int64_t>(indices.size()));
  const auto* source = reinterpret_cast<const unsigned char*>(b->values.data());
  float* target = batch.data();
  // Shuffled rows of a data set larger than the caches: fetch the next rows while this one is
  // converted, or the loop waits on memory (the hardware prefetcher cannot guess the order).
  constexpr size_t kRowsAhead = 2;
  for (size_t k = 0; k < indices.size(); ++k) {
    if (k + kRowsAhead < indices.size()) prefetch(source + indices[k + kRowsAhead] * row, row);
    lookup(source + indices[k] * row, row, b->table, target);
    target += row;
  }
}

Column Column::select(std::span<const int64_t> indices) const {
  if (const Windows* w = std::get_if<Windows>(&storage_)) {
    const int64_t row = w->shape[1];
    std::string picked(indices.size() * static_cast<size_t>(row), '\0');
    char* target = picked.data();
    for (int64_t index : indices) target = std::copy_n(reinterpret_cast<const char*>(w->row(index)), row, target);
    return from_bytes(std::move(picked), {static_cast<int64_t>(indices.size()), row}, w->table);
  }
  const Bytes* b = std::get_if<Bytes>(&storage_);
  if (!b) {
    Tensor picked;
    gather_rows(std::get<Tensor>(storage_), indices, picked);
    return picked;
  }
  const int64_t row = row_size();
  std::string picked(indices.size() * static_cast<size_t>(row), '\0');
  char* target = picked.data();
  for (int64_t index : indices) target = std::copy_n(b->values.data() + index * row, row, target);
  Shape shape = b->shape;
  shape[0] = static_cast<int64_t>(indices.size());
  return from_bytes(std::move(picked), std::move(shape), b->table);
}

void Column::keep_first(int64_t rows) {
  if (rows < 0 || rows > this->rows()) throw std::invalid_argument("keep_first: more rows than the column holds");
  if (Windows* w = std::get_if<Windows>(&storage_)) {
    w->shape[0] = rows;
    return;
  }
  std::vector<int64_t> first(static_cast<size_t>(rows));
  std::iota(first.begin(), first.end(), int64_t{0});
  *this = select(first);
}

Tensor& Column::floats() {
  if (is_bytes()) throw std::logic_error("Column::floats() on a byte column");
  return std::get<Tensor>(storage_);
}

const Tensor& Column::floats() const {
  if (is_bytes()) throw std::logic_error("Column::floats() on a byte column");
  return std::get<Tensor>(storage_);
}

std::string ColumnOrigin::describe(int64_t sample) const {
  const int64_t row = rows.empty() ? sample : rows[static_cast<size_t>(sample)];
  return file + ": " + unit + " " + std::to_string(first + row);
}

bool Dataset::gather(const std::string& input, std::span<const int64_t> indices, Tensor& batch) const {
  auto column = columns.find(input);
  if (column == columns.end()) return false;
  column->second.gather(indices, batch);
  return true;
}

Dataset Dataset::select(std::span<const int64_t> indices) const {
  Dataset subset;
  subset.size = static_cast<int64_t>(indices.size());
  for (const auto& [name, column] : columns) subset.columns[name] = column.select(indices);
  for (const auto& [name, origin] : origins) {
    ColumnOrigin& picked = subset.origins[name];
    picked = ColumnOrigin{origin.file, origin.unit, origin.first, {}, origin.source};
    for (int64_t i : indices) picked.rows.push_back(origin.rows.empty() ? i : origin.rows[static_cast<size_t>(i)]);
  }
  return subset;
}

}  // namespace gradflow
