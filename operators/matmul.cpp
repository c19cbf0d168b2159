// matmul: torch.matmul of two computed tensors over their sample shapes, [..., n, k] x
// [..., k, m] with the leading axes broadcast and a 1-D operand as torch takes it. Each
// product is one kernels::gemm (the framework's fixed tiling); which matrices meet is worked out
// once from the shapes, and a broadcast operand's gradient sums its products in a fixed order.
#include <algorithm>
#include <string>
#include <vector>

#include "copy_plan.hpp"
#include "families.hpp"
#include "gradflow/kernels.hpp"
#include "image_util.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

// Work per tile of (sample, product) pairs: enough multiply-adds to be worth a task.
constexpr int64_t kProductTileWork = 1 << 16;

class MatMul final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    return {"matmul", OpKind::Layer,
            "matrix product of two computed tensors over sample shapes, leading axes broadcast (torch.matmul)", 2, 2,
            {}};
  }
  explicit MatMul(const Attributes& /*attrs*/) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    if (input_shapes.size() != 2)
      throw ShapeError("matmul takes exactly two inputs, got " + std::to_string(input_shapes.size()));
    const Shape &a = input_shapes[0], &b = input_shapes[1];
    if (a.empty() || b.empty())
      throw ShapeError("matmul: a " + to_string(a) + " and b " + to_string(b) + " must each have at least one axis");
    // As matrices: a 1-D a is a row [1, k], a 1-D b a column [k, 1].
    a_matrix_ = a.size() == 1 ? Shape{1, a[0]} : a;
    b_matrix_ = b.size() == 1 ? Shape{b[0], 1} : b;
    n_ = a_matrix_.end()[-2], k_ = a_matrix_.back(), m_ = b_matrix_.back();
    if (b_matrix_.end()[-2] != k_)
      throw ShapeError("matmul: a " + to_string(a) + " and b " + to_string(b) + " do not multiply: a has " +
                       std::to_string(k_) + " columns, b " + std::to_string(b_matrix_.end()[-2]) + " rows");
    const Shape lead = broadcast_leading(a, b);
    Shape out = lead;
    if (a.size() > 1) out.push_back(n_);
    if (b.size() > 1) out.push_back(m_);
    a_size_ = numel(a), b_size_ = numel(b), out_size_ = numel(out);
    output_shape_.set_sample(out);
    return out;
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor &a = *inputs[0], &b = *inputs[1];
    output.resize(output_shape_.with_batch(a.dim(0)));
    const int64_t products = static_cast<int64_t>(a_of_.size());
    for_pairs(a.dim(0), products, n_ * m_ * k_, [&](int64_t s, int64_t p) {
      kernels::gemm(false, false, n_, m_, k_, 1.0f, a_at(a.data(), s, a_of_[static_cast<size_t>(p)]),
                    b_at(b.data(), s, b_of_[static_cast<size_t>(p)]), 0.0f, out_at(output.data(), s, p));
    });
  }

  // dA_i = sum over the products p that read a's matrix i of dC_p · B_pᵀ, in p's order; dB alike.
  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    const Tensor &a = *inputs[0], &b = *inputs[1];
    const float* g = grad_output.data();
    if (Tensor* ga = grad_inputs[0])
      for_pairs(a.dim(0), static_cast<int64_t>(readers_of_a_.size()), n_ * m_ * k_, [&](int64_t s, int64_t i) {
        float beta = 0.0f;
        for (int64_t p : readers_of_a_[static_cast<size_t>(i)]) {
          kernels::gemm(false, true, n_, k_, m_, 1.0f, out_at(g, s, p), b_at(b.data(), s, b_of_[static_cast<size_t>(p)]),
                        beta, a_at(ga->data(), s, i));
          beta = 1.0f;
        }
      });
    if (Tensor* gb = grad_inputs[1])
      for_pairs(b.dim(0), static_cast<int64_t>(readers_of_b_.size()), n_ * m_ * k_, [&](int64_t s, int64_t j) {
        float beta = 0.0f;
        for (int64_t p : readers_of_b_[static_cast<size_t>(j)]) {
          kernels::gemm(true, false, k_, m_, n_, 1.0f, a_at(a.data(), s, a_of_[static_cast<size_t>(p)]), out_at(g, s, p),
                        beta, b_at(gb->data(), s, j));
          beta = 1.0f;
        }
      });
  }

  double flops_per_sample() const override {
    return 2.0 * static_cast<double>(a_of_.size()) * static_cast<double>(n_ * m_ * k_);
  }

  // ONNX's MatMul broadcasts over the whole tensor, batch axis included: both operands are
  // reshaped to the same rank as matrices (1-D ones to a row or a column), and the product back
  // to the sample's shape.
  bool export_onnx(OnnxNodeWriter& w) const override {
    const size_t rank = std::max(a_matrix_.size(), b_matrix_.size());
    const Shape& out = w.output_shape();
    const std::string a = as_rank(w, 0, a_matrix_, rank), b = as_rank(w, 1, b_matrix_, rank);
    Shape product(rank - 2, 1);
    for (size_t d = 0; d + 2 < rank; ++d) product[d] = out[d];
    product.push_back(n_), product.push_back(m_);
    if (product == out) {
      w.add_node("MatMul", {a, b}, {w.output()});
      return true;
    }
    const std::string raw = w.unique_name("product");
    w.add_node("MatMul", {a, b}, {raw});
    w.add_node("Reshape", {raw, shape_constant(w, out)}, {w.output()});
    return true;
  }

 private:
  static std::string shape_constant(OnnxNodeWriter& w, const Shape& sample) {
    std::vector<int64_t> target{0};
    target.insert(target.end(), sample.begin(), sample.end());
    return w.int64_constant("shape", target, {static_cast<int64_t>(target.size())});
  }

  // Input `i` reshaped to `matrix` with leading 1s up to `rank` axes, when it is not that already.
  static std::string as_rank(OnnxNodeWriter& w, size_t i, const Shape& matrix, size_t rank) {
    Shape target(rank - matrix.size(), 1);
    target.insert(target.end(), matrix.begin(), matrix.end());
    if (target == w.input_shapes()[i]) return w.inputs()[i];
    const std::string reshaped = w.unique_name(i == 0 ? "a" : "b");
    w.add_node("Reshape", {w.inputs()[i], shape_constant(w, target)}, {reshaped});
    return reshaped;
  }

  // The broadcast leading axes; fills which matrix of a and of b each product reads, and which
  // products read each matrix.
  Shape broadcast_leading(const Shape& a, const Shape& b) {
    const Shape la(a_matrix_.begin(), a_matrix_.end() - 2), lb(b_matrix_.begin(), b_matrix_.end() - 2);
    const size_t rank = std::max(la.size(), lb.size());
    const Shape pa = padded(la, rank), pb = padded(lb, rank);
    Shape lead(rank);
    for (size_t d = 0; d < rank; ++d) {
      if (pa[d] != pb[d] && pa[d] != 1 && pb[d] != 1)
        throw ShapeError("matmul: a " + to_string(a) + " and b " + to_string(b) + " do not broadcast: leading axes " +
                         to_string(la) + " and " + to_string(lb));
      lead[d] = std::max(pa[d], pb[d]);
    }
    const std::vector<int64_t> sa = strides_of(pa), sb = strides_of(pb);
    a_of_.clear(), b_of_.clear();
    std::vector<int64_t> index(rank, 0);
    for (int64_t p = 0; p < numel(lead); ++p) {
      int64_t ia = 0, ib = 0;
      for (size_t d = 0; d < rank; ++d) {
        if (pa[d] != 1) ia += index[d] * sa[d];
        if (pb[d] != 1) ib += index[d] * sb[d];
      }
      a_of_.push_back(ia), b_of_.push_back(ib);
      for (size_t d = rank; d-- > 0;) {
        if (++index[d] < lead[d]) break;
        index[d] = 0;
      }
    }
    readers_of_a_.assign(static_cast<size_t>(numel(pa)), {});
    readers_of_b_.assign(static_cast<size_t>(numel(pb)), {});
    for (size_t p = 0; p < a_of_.size(); ++p) {
      readers_of_a_[static_cast<size_t>(a_of_[p])].push_back(static_cast<int64_t>(p));
      readers_of_b_[static_cast<size_t>(b_of_[p])].push_back(static_cast<int64_t>(p));
    }
    return lead;
  }

  static Shape padded(const Shape& s, size_t rank) {
    Shape out(rank - s.size(), 1);
    out.insert(out.end(), s.begin(), s.end());
    return out;
  }

  // body(sample, item) for every pair, in tiles fixed by the shapes.
  template <class Body>
  static void for_pairs(int64_t batch, int64_t items, int64_t work, const Body& body) {
    const int64_t grain = std::max<int64_t>(1, kProductTileWork / std::max<int64_t>(1, work));
    kernels::for_tiles(batch * items, grain, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) body(t / items, t % items);
    });
  }

  template <class T>
  T* a_at(T* base, int64_t s, int64_t i) const { return base + s * a_size_ + i * n_ * k_; }
  template <class T>
  T* b_at(T* base, int64_t s, int64_t j) const { return base + s * b_size_ + j * k_ * m_; }
  template <class T>
  T* out_at(T* base, int64_t s, int64_t p) const { return base + s * out_size_ + p * n_ * m_; }

  Shape a_matrix_, b_matrix_;  // the operands' sample shapes as matrices
  int64_t n_ = 0, k_ = 0, m_ = 0;
  int64_t a_size_ = 0, b_size_ = 0, out_size_ = 0;
  std::vector<int64_t> a_of_, b_of_;                          // per product: the matrix of a, of b
  std::vector<std::vector<int64_t>> readers_of_a_, readers_of_b_;  // per matrix: the products reading it
  BatchedShape output_shape_;
};

}  // namespace

void register_matmul(Registrar& registrar) { registrar.add<MatMul>(); }

}  // namespace gradflow::ops
