// lstm and gru: torch.nn.LSTM / torch.nn.GRU (batch_first=True) over a sample [T, I] from zero
// initial states, stacked (num_layers), bidirectional or not, with inter-layer dropout in
// training; the output is the last layer's whole sequence [T, D·H] or each direction's final
// hidden state [D·H]. Parameters carry torch's names, layouts, gate order and initialisation,
// so a checkpoint loads into the torch module. The work is compute/recurrent.hpp's.
#include <cmath>
#include <string>
#include <vector>

#include "compute/recurrent.hpp"
#include "families.hpp"
#include "init.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

using kernels::RecurrentCell;

const char* op_name(RecurrentCell cell) { return cell == RecurrentCell::Lstm ? "lstm" : "gru"; }

OpSchema recurrent_schema(RecurrentCell cell) {
  const bool lstm = cell == RecurrentCell::Lstm;
  return {op_name(cell),
          OpKind::Layer,
          lstm ? "LSTM over [T, I], stacked and/or bidirectional (torch.nn.LSTM, batch_first)"
               : "GRU over [T, I], stacked and/or bidirectional (torch.nn.GRU, batch_first)",
          1,
          1,
          {bounded(attr("hidden_size", AttrType::Int, std::nullopt, "features of the hidden state H"), 0.0, true),
           bounded(attr("num_layers", AttrType::Int, AttrValue{int64_t{1}}, "stacked recurrent layers"), 1.0, false),
           attr("bidirectional", AttrType::Bool, AttrValue{false}, "also run each layer backwards in time"),
           attr("bias", AttrType::Bool, AttrValue{true}, "learn the biases b_ih and b_hh"),
           bounded_above(bounded(attr("dropout", AttrType::Float, AttrValue{0.0},
                                      "dropout on the output of every layer but the last, in training"),
                                 0.0, false),
                         1.0, true),
           with_choices(attr("output", AttrType::String, AttrValue{std::string("sequence")},
                             "sequence: the last layer's output at every step [T, D*H]; last: each direction's "
                             "final hidden state [D*H]"),
                        {"sequence", "last"})}};
}

class Recurrent final : public Operator, public OnnxExportable {
 public:
  Recurrent(const Attributes& attrs, RecurrentCell cell)
      : last_(attrs.get_string("output") == "last"), dropout_(attrs.get_float("dropout")) {
    shape_.cell = cell;
    shape_.hidden = attrs.get_int("hidden_size");
    shape_.layers = attrs.get_int("num_layers");
    shape_.directions = attrs.get_bool("bidirectional") ? 2 : 1;
    shape_.bias = attrs.get_bool("bias");
  }

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const char* op = op_name(shape_.cell);
    const Shape& in = single_input(input_shapes, op);
    if (in.size() != 2 || in[0] < 1 || in[1] < 1)
      throw ShapeError(std::string(op) + " expects an input of shape [T, I] (one vector per time step), got " +
                       to_string(in));
    shape_.seq = in[0];
    shape_.input = in[1];
    const int64_t gh = shape_.gates() * shape_.hidden;
    params_.clear();
    for (int64_t l = 0; l < shape_.layers; ++l)
      for (int64_t d = 0; d < shape_.directions; ++d) {
        const std::string suffix = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
        add_parameter("weight_ih" + suffix, {gh, shape_.input_width(l)});
        add_parameter("weight_hh" + suffix, {gh, shape_.hidden});
        if (shape_.bias) {
          add_parameter("bias_ih" + suffix, {gh});
          add_parameter("bias_hh" + suffix, {gh});
        }
      }
    weights_.resize(static_cast<size_t>(shape_.layers * shape_.directions));
    if (last_) return {shape_.output_width()};
    return {shape_.seq, shape_.output_width()};
  }

  std::span<Parameter> parameters() override { return params_; }

  // torch's reset_parameters: every parameter U(±1/√H), in parameter order.
  void init_parameters(Rng& rng) override {
    const double bound = 1.0 / std::sqrt(static_cast<double>(shape_.hidden));
    for (Parameter& p : params_) fill_uniform(p.value, rng, -bound, bound);
  }

  void begin_pass(const RunContext& context) override {
    drop_.active = context.training && dropout_ > 0.0;
    drop_.p = dropout_;
    drop_.key = context.random_key();
    drop_.first_sample = context.first_sample;
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    const int64_t batch = x.dim(0);
    if (last_) output.resize({batch, shape_.output_width()});
    else output.resize({batch, shape_.seq, shape_.output_width()});
    net_.forward(shape_, batch, bind_weights(), drop_, x.data(), last_, output.data());
  }

  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    float* dx = grad_inputs[0] ? grad_inputs[0]->data() : nullptr;
    net_.backward(shape_, inputs[0]->dim(0), bind_weights(), last_, grad_output.data(), dx);
  }

  double flops_per_sample() const override {
    double macs = 0.0;
    for (int64_t l = 0; l < shape_.layers; ++l)
      macs += static_cast<double>(shape_.directions * shape_.seq * shape_.gates() * shape_.hidden *
                                  (shape_.input_width(l) + shape_.hidden));
    return 2.0 * macs;
  }

  bool export_onnx(OnnxNodeWriter& w) const override;

 private:
  void add_parameter(const std::string& name, const Shape& shape) { params_.push_back({name, Tensor(shape), Tensor(shape)}); }

  // The parameters of layer l, direction d (torch's order: w_ih, w_hh, b_ih, b_hh).
  size_t first_parameter(int64_t l, int64_t d) const {
    return static_cast<size_t>((l * shape_.directions + d) * (shape_.bias ? 4 : 2));
  }

  // Points the kernel at the parameters as they are now (a checkpoint may have replaced them).
  std::span<const kernels::RecurrentWeights> bind_weights() {
    for (int64_t l = 0; l < shape_.layers; ++l)
      for (int64_t d = 0; d < shape_.directions; ++d) {
        Parameter* p = &params_[first_parameter(l, d)];
        kernels::RecurrentWeights& w = weights_[static_cast<size_t>(l * shape_.directions + d)];
        w = {p[0].value.data(), p[1].value.data(), nullptr, nullptr, p[0].grad.data(), p[1].grad.data(), nullptr,
             nullptr};
        if (shape_.bias) {
          w.b_ih = p[2].value.data();
          w.b_hh = p[3].value.data();
          w.grad_b_ih = p[2].grad.data();
          w.grad_b_hh = p[3].grad.data();
        }
      }
    return weights_;
  }

  // ONNX's W, R or B of one layer: [D, G·H, cols] with the gate blocks in ONNX's order.
  Tensor onnx_gates(int64_t layer, size_t which, int64_t cols) const;

  bool last_;
  double dropout_;
  kernels::RecurrentShape shape_;
  std::vector<Parameter> params_;
  std::vector<kernels::RecurrentWeights> weights_;
  kernels::RecurrentDropout drop_;
  kernels::RecurrentNet net_;
};

Tensor Recurrent::onnx_gates(int64_t layer, size_t which, int64_t cols) const {
  // ONNX's gate order from torch's: LSTM i o f c from i f g o; GRU z r h from r z n.
  static constexpr int64_t kLstmOrder[] = {0, 3, 1, 2};
  static constexpr int64_t kGruOrder[] = {1, 0, 2};
  const int64_t* order = shape_.cell == RecurrentCell::Lstm ? kLstmOrder : kGruOrder;
  const int64_t gates = shape_.gates(), h = shape_.hidden, block = h * cols;
  Tensor out({shape_.directions, gates * h, cols});
  for (int64_t d = 0; d < shape_.directions; ++d) {
    const Tensor& p = params_[first_parameter(layer, d) + which].value;
    for (int64_t k = 0; k < gates; ++k)
      std::copy_n(p.data() + order[k] * block, block, out.data() + (d * gates + k) * block);
  }
  return out;
}

// As torch.onnx.export writes nn.LSTM / nn.GRU(batch_first=True): Transpose to time-major, one
// ONNX LSTM / GRU node per layer (W, R and B with the gates reordered; GRU with
// linear_before_reset = 1, torch's n gate), its Y [T, D, N, H] back to [T, N, D·H] for the next
// layer, and at the end Transpose to batch-first, or Y_h [D, N, H] to [N, D·H] for `last`.
bool Recurrent::export_onnx(OnnxNodeWriter& w) const {
  const bool lstm = shape_.cell == RecurrentCell::Lstm;
  const int64_t h = shape_.hidden, width = shape_.output_width();
  const std::vector<int64_t> swap01{1, 0, 2};
  std::string x = w.unique_name("time_major");
  w.add_node("Transpose", {w.inputs()[0]}, {x}, {{"perm", swap01}});
  std::string y_h;
  for (int64_t l = 0; l < shape_.layers; ++l) {
    const std::string layer = "l" + std::to_string(l);
    std::vector<std::string> inputs{x, w.constant("W_" + layer, onnx_gates(l, 0, shape_.input_width(l))),
                                    w.constant("R_" + layer, onnx_gates(l, 1, h))};
    if (shape_.bias) {
      const Tensor b_ih = onnx_gates(l, 2, 1), b_hh = onnx_gates(l, 3, 1);
      const int64_t n = b_ih.size() / shape_.directions;
      Tensor b({shape_.directions, 2 * n});
      for (int64_t d = 0; d < shape_.directions; ++d) {
        std::copy_n(b_ih.data() + d * n, n, b.data() + d * 2 * n);
        std::copy_n(b_hh.data() + d * n, n, b.data() + d * 2 * n + n);
      }
      inputs.push_back(w.constant("B_" + layer, b));
    }
    const std::string y = w.unique_name("Y_" + layer);
    y_h = w.unique_name("Y_h_" + layer);
    std::vector<OnnxAttribute> attributes{
        {"hidden_size", h}, {"direction", std::string(shape_.directions == 2 ? "bidirectional" : "forward")}};
    if (!lstm) attributes.push_back({"linear_before_reset", int64_t{1}});
    w.add_node(lstm ? "LSTM" : "GRU", inputs, {y, y_h}, attributes);
    const std::string directions_inner = w.unique_name("Y_t_" + layer);
    w.add_node("Transpose", {y}, {directions_inner}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
    x = w.unique_name("out_" + layer);
    w.add_node("Reshape", {directions_inner, w.int64_constant("shape_" + layer, {0, 0, width}, {3})}, {x});
  }
  if (!last_) {
    w.add_node("Transpose", {x}, {w.output()}, {{"perm", swap01}});
    return true;
  }
  const std::string batch_first = w.unique_name("final_t");
  w.add_node("Transpose", {y_h}, {batch_first}, {{"perm", swap01}});
  w.add_node("Reshape", {batch_first, w.int64_constant("final_shape", {0, width}, {2})}, {w.output()});
  return true;
}

}  // namespace

void register_recurrent(Registrar& registrar) {
  for (const RecurrentCell cell : {RecurrentCell::Lstm, RecurrentCell::Gru})
    registrar.add_operator(recurrent_schema(cell),
                           [cell](const Attributes& a) { return std::make_unique<Recurrent>(a, cell); });
}

}  // namespace gradflow::ops
