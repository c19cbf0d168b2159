// ONNX's LSTM and GRU as gradflow's lstm and gru (torch.nn.LSTM / GRU, batch_first): the nodes
// of one module (import_recurrent_trace.cpp) become one node named after the module, with
// num_layers and bidirectional, its weights in torch's layout and gate order under torch's
// state-dict names (`rnn.weight_ih_l0`), and what reads it (a time step, a final hidden state)
// as slice / squeeze / concat of its output.
#include "import_recurrent.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace gradflow::onnx_io {

namespace {

// torch's gate blocks from ONNX's: LSTM i f g o from i o f c, GRU r z n from z r h.
constexpr int64_t kLstmFromOnnx[] = {0, 2, 3, 1};
constexpr int64_t kGruFromOnnx[] = {1, 0, 2};

// Direction d's gate blocks (`hidden` rows of `cols` each) of an ONNX W, R or B [D, ..., cols]
// from row `first` on (B holds Wb then Rb), reordered as torch's.
Tensor torch_gates(const RecurrentStack& s, const Tensor& onnx, int64_t d, int64_t first, int64_t cols) {
  const int64_t gates = s.lstm ? 4 : 3, block = s.hidden * cols;
  const int64_t* order = s.lstm ? kLstmFromOnnx : kGruFromOnnx;
  const int64_t per_direction = onnx.size() / s.directions;
  Tensor out(cols == 1 ? Shape{gates * s.hidden} : Shape{gates * s.hidden, cols});
  for (int64_t k = 0; k < gates; ++k)
    std::copy_n(onnx.data() + d * per_direction + first * cols + order[k] * block, block, out.data() + k * block);
  return out;
}

// A constant input of `layer` as [D, rows, cols], or an error naming the layer.
Tensor layer_constant(Importer& im, const onnx::NodeProto& layer, int input, const char* what, const Shape& expected) {
  Tensor t = im.float_constant(layer, input);
  if (t.shape() != expected)
    im.fail(layer, fmt::format("{} (input {}) has shape {}, expected {}", what, input, to_string(t.shape()),
                               to_string(expected)));
  return t;
}

// Layer l's W, R and B as torch's weight_ih_l<l>, weight_hh_l<l>, bias_ih_l<l>, bias_hh_l<l>
// (`_reverse` for the backward direction); a layer without B gets zero biases when others have one.
void store_weights(Importer& im, const RecurrentStack& s, const std::string& node, bool bias) {
  const int64_t gh = (s.lstm ? 4 : 3) * s.hidden, d_count = s.directions;
  for (size_t l = 0; l < s.layers.size(); ++l) {
    const onnx::NodeProto& layer = *s.layers[l];
    const int64_t in = l == 0 ? sample_of(im, *s.to_time_major, 0).at(1) : d_count * s.hidden;
    const Tensor w = layer_constant(im, layer, 1, "W", {d_count, gh, in});
    const Tensor r = layer_constant(im, layer, 2, "R", {d_count, gh, s.hidden});
    Tensor b({d_count, 2 * gh});
    if (layer.input_size() > 3 && !layer.input(3).empty())
      b = layer_constant(im, layer, 3, "B", {d_count, 2 * gh});
    else
      b.fill(0.0f);
    for (int64_t d = 0; d < d_count; ++d) {
      const std::string suffix = fmt::format("_l{}{}", l, d == 1 ? "_reverse" : "");
      im.store_weight(node + ".weight_ih" + suffix, torch_gates(s, w, d, 0, in));
      im.store_weight(node + ".weight_hh" + suffix, torch_gates(s, r, d, 0, s.hidden));
      if (!bias) continue;
      im.store_weight(node + ".bias_ih" + suffix, torch_gates(s, b, d, 0, 1));
      im.store_weight(node + ".bias_hh" + suffix, torch_gates(s, b, d, gh, 1));
    }
  }
}

// Emits the nodes that compute each read of the stack from the lstm / gru node `rnn`.
class Reads {
 public:
  Reads(Importer& im, const RecurrentStack& s, std::string rnn, bool sequence)
      : im_(im), s_(s), rnn_(std::move(rnn)), sequence_(sequence) {}

  void emit(const RecurrentRead& r) {
    const onnx::NodeProto& node = *r.node;
    if (r.step >= 0 && !sequence_) {
      im_.alias(node.output(0), rnn_);  // the last step of a forward-only layer: its final state
    } else if (r.step >= 0) {
      step(node, r.step);
    } else if (!sequence_) {
      if (r.direction < 0 || s_.directions == 1)
        im_.alias(node.output(0), rnn_);
      else
        half(node, rnn_, r.direction);
    } else if (s_.directions == 1) {
      step(node, s_.steps - 1);
    } else if (r.direction >= 0) {
      half(node, step(node, r.direction == 0 ? s_.steps - 1 : 0), r.direction);
    } else {  // both directions' final states from the sequence: forward's last step, backward's first
      const std::string forward = half(node, step(node, s_.steps - 1), 0);
      const std::string backward = half(node, step(node, 0), 1);
      im_.add(node, "concat", {forward, backward}, rnn_ + "_last");
    }
  }

 private:
  // Step t of the sequence [T, D·H], as [D·H].
  std::string step(const onnx::NodeProto& node, int64_t t) {
    GfNode& slice = im_.add(node, "slice", {rnn_}, fmt::format("{}_t{}", rnn_, t));
    slice.attributes = {"axis: 0", fmt::format("start: {}", t), fmt::format("end: {}", t + 1)};
    const std::string sliced = slice.name;
    GfNode& squeeze = im_.add(node, "squeeze", {sliced}, fmt::format("{}_step{}", rnn_, t));
    squeeze.attributes = {"axes: [0]"};
    return squeeze.name;
  }

  // Direction d's H features of a [D·H] value.
  std::string half(const onnx::NodeProto& node, const std::string& value, int64_t d) {
    GfNode& slice = im_.add(node, "slice", {value}, rnn_ + (d == 0 ? "_forward" : "_backward"));
    slice.attributes = {"axis: 0", fmt::format("start: {}", d * s_.hidden),
                        fmt::format("end: {}", (d + 1) * s_.hidden)};
    return slice.name;
  }

  Importer& im_;
  const RecurrentStack& s_;
  std::string rnn_;
  bool sequence_;
};

// The whole sequence is computed when a node reads it whole or reads a step that is not a
// forward-only layer's final state; otherwise `output: last`.
bool needs_sequence(const RecurrentStack& s) {
  if (!s.sequence.empty()) return true;
  return std::any_of(s.reads.begin(), s.reads.end(), [&](const RecurrentRead& r) {
    return r.step >= 0 && (s.directions == 2 || r.step != s.steps - 1);
  });
}

void recurrent(Importer& im, const onnx::NodeProto& first) {
  const RecurrentStack s = trace_recurrent(im, producers_of(im.graph()), first);
  const bool sequence = needs_sequence(s);
  const bool bias = std::any_of(s.layers.begin(), s.layers.end(),
                                [](const onnx::NodeProto* l) { return l->input_size() > 3 && !l->input(3).empty(); });
  GfNode& gf = im.add(first, s.lstm ? "lstm" : "gru", {im.data_input(*s.to_time_major, 0)});
  gf.attributes.push_back(fmt::format("hidden_size: {}", s.hidden));
  if (s.layers.size() > 1) gf.attributes.push_back(fmt::format("num_layers: {}", s.layers.size()));
  if (s.directions == 2) gf.attributes.push_back("bidirectional: true");
  if (!bias) gf.attributes.push_back("bias: false");
  if (!sequence) gf.attributes.push_back("output: last");
  const std::string name = gf.name;  // add() below may move gf
  store_weights(im, s, name, bias);
  if (!s.sequence.empty()) im.alias(s.sequence, name);
  Reads reads(im, s, name, sequence);
  for (const RecurrentRead& r : s.reads) reads.emit(r);
}

}  // namespace

// Before convert(): every stack's nodes but its first layer are taken over, and every Constant
// node's value is known (the converters read constants after the node convert() is at: a later
// layer's weights, a Reshape's shape; registering them early changes nothing else).
void claim_recurrent_nodes(Importer& im) {
  std::optional<Producers> producers;
  for (const auto& node : im.graph().node()) {
    if ((node.op_type() != "LSTM" && node.op_type() != "GRU") || im.consumed(node) ||
        (!node.domain().empty() && node.domain() != "ai.onnx"))
      continue;
    if (!producers) {
      producers = producers_of(im.graph());
      for (const auto& n : im.graph().node())
        if (const onnx::AttributeProto* value = n.op_type() == "Constant" ? find_attribute(n, "value") : nullptr;
            value && value->has_t() && n.output_size() > 0)
          im.add_constant(n.output(0), &value->t());
    }
    trace_recurrent(im, *producers, node);  // consumes every node of the stack but `node`
  }
}

void add_recurrent_converters(std::map<std::string, Converter>& table) {
  table["LSTM"] = recurrent;
  table["GRU"] = recurrent;
}

}  // namespace gradflow::onnx_io
