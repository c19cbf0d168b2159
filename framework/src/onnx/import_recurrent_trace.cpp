// Finds the nodes torch.onnx.export writes around nn.LSTM / nn.GRU(batch_first=True): a
// Transpose to time-major before the first layer; per layer an LSTM / GRU node whose zero initial
// states come from ConstantOfShape (sliced per layer) of a shape computed from the input; its Y
// through Transpose + Reshape (or Squeeze when unidirectional) to the next layer or to a
// Transpose back to batch-first; the final states through a Concat of every layer's Y_h and
// Gathers. gradflow's own export writes the same, with Y_h through Transpose + Reshape for
// `output: last`. These nodes are not general Transposes or Gathers (they move the batch axis),
// so they are matched here as one pattern and anything else is refused naming the node.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>

#include "import_recurrent.hpp"
#include "onnx_tensor.hpp"

namespace gradflow::onnx_io {

namespace {

using Ints = std::vector<int64_t>;

bool has_input(const onnx::NodeProto& node, int input) {
  return input < node.input_size() && !node.input(input).empty();
}

Ints ints_attribute(const onnx::NodeProto& node, const std::string& name) {
  const onnx::AttributeProto* a = find_attribute(node, name);
  return a ? Ints(a->ints().begin(), a->ints().end()) : Ints{};
}

class Tracer {
 public:
  Tracer(Importer& im, const Producers& producers, const onnx::NodeProto& first) : im_(im), producers_(producers) {
    s_.lstm = first.op_type() == "LSTM";
    s_.hidden = int_attribute(first, "hidden_size", 0);
    s_.directions = string_attribute(first, "direction", "forward") == "bidirectional" ? 2 : 1;
  }

  RecurrentStack trace(const onnx::NodeProto& first) {
    input(first);
    std::string out;
    for (const onnx::NodeProto* layer = &first; layer;) {
      s_.layers.push_back(layer);
      check_layer(*layer);
      if (layer != &first) take(*layer);
      out = time_major_output(*layer);
      layer = next_layer(out);
    }
    batch_first_output(out);
    final_states();
    both_directions();
    return std::move(s_);
  }

 private:
  const char* torch_name() const { return s_.lstm ? "nn.LSTM" : "nn.GRU"; }
  std::string layer_name(const onnx::NodeProto& layer) const {
    return fmt::format("{} node '{}'", layer.op_type(), layer.name());
  }
  void take(const onnx::NodeProto& node) {
    if (taken_.insert(&node).second) im_.consume(node);
  }
  // The one node reading `value`, or null; a second reader is refused with `expected`.
  const onnx::NodeProto* only_reader(const std::string& value, const std::string& expected) const {
    const auto& readers = im_.readers_of(value);
    if (readers.size() > 1) im_.fail(*readers[1], expected);
    if (im_.is_graph_output(value)) im_.fail(*producer(value), expected + "; it must not be an output of the model");
    return readers.empty() ? nullptr : readers[0];
  }
  bool is(const onnx::NodeProto* node, const char* op_type, const std::string& input0) const {
    return node && node->op_type() == op_type && node->input_size() > 0 && node->input(0) == input0 &&
           node->output_size() > 0;
  }

  const onnx::NodeProto* producer(const std::string& value) const {
    auto it = producers_.find(value);
    return it == producers_.end() ? nullptr : it->second;
  }
  bool is_transpose(const onnx::NodeProto* node, const std::string& input0, const Ints& perm) const {
    return is(node, "Transpose", input0) && ints_attribute(*node, "perm") == perm;
  }
  // The index when `node` is a Gather of `value` along `axis` (or `other_axis`, the same one
  // counted from the end) by one constant integer (`out[:, -1]`, `h[-1]`).
  std::optional<int64_t> gathered_index(const onnx::NodeProto& node, const std::string& value, int64_t axis,
                                        int64_t other_axis) const {
    const int64_t a = int_attribute(node, "axis", 0);
    const onnx::TensorProto* index = node.input_size() == 2 ? im_.constant(node.input(1)) : nullptr;
    if (!is(&node, "Gather", value) || (a != axis && a != other_axis) || !index || index->dims_size() != 0)
      return std::nullopt;
    const Ints k = im_.int_constant(node, 1);
    if (k.size() != 1) im_.fail(node, "its index must be one integer");
    return k[0];
  }

  // X: the batch-first input through Transpose (perm 1, 0, 2).
  void input(const onnx::NodeProto& first) {
    const onnx::NodeProto* t = has_input(first, 0) ? producer(first.input(0)) : nullptr;
    if (!t || !is_transpose(t, t->input_size() > 0 ? t->input(0) : "", {1, 0, 2}))
      im_.fail(first, fmt::format("input X must be the batch-first input through a Transpose (perm [1, 0, 2]) to "
                                  "time-major, as torch.onnx.export writes {}(batch_first=True)",
                                  torch_name()));
    s_.to_time_major = t;
    take(*t);
    const auto sample = im_.sample_shape(t->input(0));
    if (!sample || sample->size() != 2)
      im_.fail(*t, "its input must be a batch of sequences [batch, T, I] with T and I known");
    s_.steps = (*sample)[0];
  }

  void check_layer(const onnx::NodeProto& layer) {
    // Bounded so that the gate rows (4·H) and widths (2·H) computed from it cannot overflow.
    if (s_.hidden < 1 || s_.hidden > INT32_MAX)
      im_.fail(layer, fmt::format("hidden_size {} must be positive and at most {}", s_.hidden, INT32_MAX));
    const std::string direction = string_attribute(layer, "direction", "forward");
    if (direction != "forward" && direction != "bidirectional")
      im_.fail(layer, fmt::format("direction {} is not supported; {} runs forward, or both ways when bidirectional",
                                  direction, torch_name()));
    if (layer.op_type() != s_.layers.front()->op_type() || int_attribute(layer, "hidden_size", 0) != s_.hidden ||
        (direction == "bidirectional" ? 2 : 1) != s_.directions)
      im_.fail(layer, fmt::format("it is fed by {} but differs in op_type, hidden_size or direction; one {} "
                                  "has the same for every layer",
                                  layer_name(*s_.layers.front()), torch_name()));
    const std::vector<std::string> one =
        s_.lstm ? std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"} : std::vector<std::string>{"Sigmoid", "Tanh"};
    if (const onnx::AttributeProto* a = find_attribute(layer, "activations")) {
      std::vector<std::string> expected;
      for (int64_t d = 0; d < s_.directions; ++d) expected.insert(expected.end(), one.begin(), one.end());
      if (!std::equal(a->strings().begin(), a->strings().end(), expected.begin(), expected.end()))
        im_.fail(layer, fmt::format("activations [{}]: only the defaults [{}] are supported ({})",
                                    fmt::join(a->strings(), ", "), fmt::join(expected, ", "), torch_name()));
    }
    for (const char* name : {"activation_alpha", "activation_beta", "clip"})
      if (find_attribute(layer, name))
        im_.fail(layer, fmt::format("attribute {} is not supported ({} has none)", name, torch_name()));
    if (int_attribute(layer, "input_forget", 0) != 0)
      im_.fail(layer, "input_forget = 1 is not supported (nn.LSTM has none)");
    if (int_attribute(layer, "layout", 0) != 0)
      im_.fail(layer, "layout = 1 (batch-first Y) is not supported; torch.onnx.export writes layout 0");
    if (!s_.lstm && int_attribute(layer, "linear_before_reset", 0) != 1)
      im_.fail(layer,
               "linear_before_reset = 0 is not supported; nn.GRU applies the reset gate after the "
               "hidden state's linear map (linear_before_reset = 1)");
    if (has_input(layer, 4))
      im_.fail(layer, fmt::format("sequence_lens (input 4) is not supported; {} runs every sequence of a batch to "
                                  "its full length",
                                  torch_name()));
    if (s_.lstm && has_input(layer, 7)) im_.fail(layer, "peepholes (input 7, P) are not supported (nn.LSTM has none)");
    zero_state(layer, 5, "initial_h");
    if (s_.lstm) zero_state(layer, 6, "initial_c");
  }

  // An initial state must be zero: a constant of zeros, or torch's ConstantOfShape(0) of a shape
  // computed from the input (Shape, Gather, Unsqueeze, Concat), sliced per layer.
  void zero_state(const onnx::NodeProto& layer, int input, const char* what) {
    if (!has_input(layer, input)) return;
    const std::string refused = fmt::format("{} (input {}) must be zero, torch's default initial state", what, input);
    std::string value = layer.input(input);
    for (int hops = 0;; ++hops) {
      if (const onnx::TensorProto* t = im_.constant(value)) {
        if (!all_zero(layer, *t, value)) im_.fail(layer, refused + fmt::format("; the constant '{}' is not", value));
        return;
      }
      const onnx::NodeProto* p = producer(value);
      if (p && p->op_type() == "Slice" && hops < 2 && p->input_size() > 0) {
        take(*p);
        value = p->input(0);
        continue;
      }
      if (!p || p->op_type() != "ConstantOfShape")
        im_.fail(layer,
                 refused + fmt::format("; '{}' is not a constant of zeros nor a ConstantOfShape of zero", value));
      const onnx::AttributeProto* fill = find_attribute(*p, "value");  // absent: zero
      if (fill && !all_zero(*p, fill->t(), "value"))
        im_.fail(layer, refused + fmt::format("; '{}' is not zero", value));
      take(*p);
      take_shape_computation(*p);
      return;
    }
  }

  bool all_zero(const onnx::NodeProto& node, const onnx::TensorProto& t, const std::string& name) const {
    try {
      const Tensor values = read_float_tensor(t, fmt::format("tensor '{}'", name));
      return std::all_of(values.values().begin(), values.values().end(), [](float v) { return v == 0.0f; });
    } catch (const std::runtime_error& e) {
      im_.fail(node, e.what());
    }
  }

  // The nodes computing the shape of a zero initial state from the input's shape.
  void take_shape_computation(const onnx::NodeProto& constant_of_shape) {
    static const std::set<std::string> shape_ops{"Shape", "Gather", "Unsqueeze", "Concat", "Slice", "Squeeze", "Cast"};
    std::vector<std::string> pending(constant_of_shape.input().begin(), constant_of_shape.input().end());
    std::set<const onnx::NodeProto*> seen;
    while (!pending.empty()) {
      const onnx::NodeProto* p = producer(pending.back());
      pending.pop_back();
      if (!p || p->op_type() == "Constant" || !seen.insert(p).second) continue;
      if (!shape_ops.count(p->op_type()))
        im_.fail(*p, fmt::format("it computes the shape of the zero initial state of {}; import expects Shape, "
                                 "Gather, Unsqueeze and Concat there, as torch.onnx.export writes them",
                                 layer_name(*s_.layers.back())));
      take(*p);
      if (p->op_type() != "Shape") pending.insert(pending.end(), p->input().begin(), p->input().end());
    }
  }

  // Y [T, D, B, H] as [T, B, D·H]: Transpose (perm 0, 2, 1, 3) + Reshape [0, 0, D·H] (or -1),
  // or Squeeze (axes [1]) when D is 1. Empty when nothing reads Y.
  std::string time_major_output(const onnx::NodeProto& layer) {
    if (layer.output_size() < 1 || layer.output(0).empty()) return "";
    const int64_t width = s_.directions * s_.hidden;
    const std::string expected = fmt::format(
        "it reads Y of {}; import expects Y to go through Transpose (perm [0, 2, 1, 3]) and Reshape to [0, 0, {}]{}, "
        "as torch.onnx.export writes {}",
        layer_name(layer), width, s_.directions == 1 ? ", or Squeeze (axes [1])" : "", torch_name());
    const onnx::NodeProto* r = only_reader(layer.output(0), expected);
    if (!r) return "";
    if (is(r, "Squeeze", layer.output(0)) && s_.directions == 1 &&
        (has_input(*r, 1) ? im_.int_constant(*r, 1) : ints_attribute(*r, "axes")) == Ints{1}) {
      take(*r);
      return r->output(0);
    }
    if (!is_transpose(r, layer.output(0), {0, 2, 1, 3})) im_.fail(*r, expected);
    take(*r);
    const onnx::NodeProto* reshape = only_reader(r->output(0), expected);
    if (!is(reshape, "Reshape", r->output(0)) || int_attribute(*reshape, "allowzero", 0) != 0) {
      if (!reshape) return "";  // gradflow's export for `last` leaves the last layer's Y unread
      im_.fail(*reshape, expected);
    }
    const Ints shape = im_.int_constant(*reshape, 1);
    if (shape != Ints{0, 0, width} && shape != Ints{0, 0, -1}) im_.fail(*reshape, expected);
    take(*reshape);
    return reshape->output(0);
  }

  // The layer reading `out` as its X, when `out` feeds the next layer of the stack.
  const onnx::NodeProto* next_layer(const std::string& out) const {
    if (out.empty()) return nullptr;
    const auto& readers = im_.readers_of(out);
    if (readers.size() == 1 && (readers[0]->op_type() == "LSTM" || readers[0]->op_type() == "GRU") &&
        readers[0]->input(0) == out)
      return readers[0];
    return nullptr;
  }

  // The last layer's output [T, B, D·H] back to batch-first [B, T, D·H], whose readers are whole
  // or time steps (Gather, axis 1, of one index).
  void batch_first_output(const std::string& out) {
    if (out.empty()) return;
    const std::string expected = fmt::format(
        "it reads the output of {}; import expects a Transpose (perm [1, 0, 2]) back to batch-first, as "
        "torch.onnx.export writes {}(batch_first=True)",
        layer_name(*s_.layers.back()), torch_name());
    const onnx::NodeProto* t = only_reader(out, expected);
    if (!t) return;
    if (!is_transpose(t, out, {1, 0, 2})) im_.fail(*t, expected);
    take(*t);
    const std::string sequence = t->output(0);
    bool whole = im_.is_graph_output(sequence);
    for (const onnx::NodeProto* r : im_.readers_of(sequence)) {
      const std::optional<int64_t> index = gathered_index(*r, sequence, 1, -2);
      if (!index) {
        whole = true;  // a reader of the whole sequence, converted as usual
        continue;
      }
      const int64_t step = *index;
      if (step < -s_.steps || step >= s_.steps)
        im_.fail(*r, fmt::format("index {} is outside the {} time steps", step, s_.steps));
      s_.reads.push_back({r, step < 0 ? step + s_.steps : step, -1});
      take(*r);
    }
    if (whole) s_.sequence = sequence;
  }

  // Y_h of the last layer: torch's Concat of every layer's Y_h and Gathers of one layer and
  // direction (h[-1]), or gradflow's Transpose + Reshape to [0, D·H]. LSTM's Y_c is refused.
  void final_states() {
    const auto layers = static_cast<int64_t>(s_.layers.size());
    const std::string expected = fmt::format(
        "it reads the final hidden states Y_h of {}; import expects torch's Concat (axis 0) of every layer's Y_h "
        "and Gather (axis 0) of one of the last layer's, or a Transpose (perm [1, 0, 2]) and Reshape to [0, {}]",
        layer_name(*s_.layers.back()), s_.directions * s_.hidden);
    std::vector<std::string> states;
    for (const onnx::NodeProto* layer : s_.layers) {
      states.push_back(layer->output_size() > 1 ? layer->output(1) : "");
      const std::string cell = layer->output_size() > 2 ? layer->output(2) : "";
      if (cell.empty()) continue;
      if (im_.is_graph_output(cell))
        im_.fail(*layer,
                 "its final cell state Y_c is an output of the model; gradflow's lstm gives the hidden "
                 "state only");
      if (!im_.readers_of(cell).empty())
        im_.fail(*im_.readers_of(cell)[0], fmt::format("it reads the final cell state Y_c of {}; gradflow's lstm "
                                                       "gives the hidden state only",
                                                       layer_name(*layer)));
    }
    std::vector<std::string> stacked;  // values holding every layer's Y_h, [L·D, B, H]
    for (size_t l = 0; l < states.size(); ++l) {
      if (states[l].empty()) continue;
      if (im_.is_graph_output(states[l]))
        im_.fail(*s_.layers[l], expected + "; Y_h must not be an output of the model");
      for (const onnx::NodeProto* r : im_.readers_of(states[l])) {
        if (taken_.count(r)) continue;  // the Concat, seen from an earlier layer's Y_h
        if (r->op_type() == "Concat" && int_attribute(*r, "axis", 1) == 0 &&
            std::equal(r->input().begin(), r->input().end(), states.begin(), states.end())) {
          take(*r);
          stacked.push_back(r->output(0));
        } else if (layers == 1 && r->op_type() == "Gather") {
          if (stacked.empty()) stacked.push_back(states[l]);
        } else if (static_cast<int64_t>(l) == layers - 1 && is_transpose(r, states[l], {1, 0, 2})) {
          gradflow_final_state(*r, expected);
        } else {
          im_.fail(*r, expected);
        }
      }
    }
    for (const std::string& value : stacked) {
      if (im_.is_graph_output(value)) im_.fail(*producer(value), expected + "; it must not be an output of the model");
      for (const onnx::NodeProto* r : im_.readers_of(value)) {
        const std::optional<int64_t> index = gathered_index(*r, value, 0, -3);
        if (!index) im_.fail(*r, expected);
        int64_t k = *index;
        const int64_t count = layers * s_.directions;
        if (k < -count || k >= count) im_.fail(*r, fmt::format("index {} is outside the {} final states", k, count));
        if (k < 0) k += count;
        if (k / s_.directions != layers - 1)
          im_.fail(*r, fmt::format("it reads the final hidden state of layer {} of {}; gradflow's {} gives the last "
                                   "layer's only",
                                   k / s_.directions, layers, s_.lstm ? "lstm" : "gru"));
        s_.reads.push_back({r, -1, k % s_.directions});
        take(*r);
      }
    }
  }

  // torch.cat([h[-2], h[-1]], 1): a Concat (last axis) of exactly the forward and the backward
  // final state is gradflow's `last` as it is.
  void both_directions() {
    auto final_of = [&](int64_t d) {
      return std::find_if(s_.reads.begin(), s_.reads.end(), [&](const RecurrentRead& r) {
        return r.step < 0 && r.direction == d && im_.readers_of(r.node->output(0)).size() == 1;
      });
    };
    const auto forward = final_of(0), backward = final_of(1);
    if (s_.directions != 2 || forward == s_.reads.end() || backward == s_.reads.end()) return;
    const onnx::NodeProto* cat = im_.readers_of(forward->node->output(0))[0];
    const int64_t axis = int_attribute(*cat, "axis", 0);
    if (cat->op_type() != "Concat" || (axis != 1 && axis != -1) || cat->input_size() != 2 ||
        cat->input(0) != forward->node->output(0) || cat->input(1) != backward->node->output(0) ||
        im_.is_graph_output(forward->node->output(0)) || im_.is_graph_output(backward->node->output(0)))
      return;
    take(*cat);
    const onnx::NodeProto* halves[] = {forward->node, backward->node};  // erase_if moves the reads
    std::erase_if(s_.reads, [&](const RecurrentRead& r) { return r.node == halves[0] || r.node == halves[1]; });
    s_.reads.push_back({cat, -1, -1});
  }

  void gradflow_final_state(const onnx::NodeProto& transpose, const std::string& expected) {
    take(transpose);
    const onnx::NodeProto* reshape = only_reader(transpose.output(0), expected);
    if (!reshape) return;
    const Ints shape = is(reshape, "Reshape", transpose.output(0)) ? im_.int_constant(*reshape, 1) : Ints{};
    if (shape != Ints{0, s_.directions * s_.hidden} && shape != Ints{0, -1}) im_.fail(*reshape, expected);
    s_.reads.push_back({reshape, -1, -1});
    take(*reshape);
  }

  Importer& im_;
  const Producers& producers_;
  RecurrentStack s_;
  std::set<const onnx::NodeProto*> taken_;
};

}  // namespace

Producers producers_of(const onnx::GraphProto& graph) {
  Producers producers;
  for (const auto& node : graph.node())
    for (const auto& out : node.output()) producers[out] = &node;
  return producers;
}

RecurrentStack trace_recurrent(Importer& im, const Producers& producers, const onnx::NodeProto& first) {
  return Tracer(im, producers, first).trace(first);
}

}  // namespace gradflow::onnx_io
