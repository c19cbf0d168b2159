// Evaluates the ONNX operators of shape arithmetic on small tensors. The batch size is unknown
// at import: an entry that is the batch passes through copies, gathers, casts and x+0, x-0,
// x*1, x/1 (and compares unequal to sizes below 1); any other arithmetic on it is not folded.
// Models are untrusted: every size is bounded by kMaxFoldedValues and every index checked.
#include "fold_values.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>

#include "onnx_import.hpp"
#include "onnx_tensor.hpp"

namespace gradflow::onnx_io {

namespace {

using TP = onnx::TensorProto;
using Result = std::optional<std::vector<FoldedValue>>;
using Combine = std::function<std::optional<Entry>(const std::vector<Entry>&)>;

bool integral(int elem) { return elem == TP::INT64 || elem == TP::INT32 || elem == TP::BOOL; }

std::optional<int64_t> count_of(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || (d != 0 && n > kMaxFoldedValues / d)) return std::nullopt;
    n *= d;
  }
  return n;
}

// Sizes and indices as integers; an out-of-range double (INT64_MAX as Slice's "to the end")
// is clamped well inside int64, which every use clamps further to a length.
int64_t to_int(double v) { return static_cast<int64_t>(std::clamp(v, -4e18, 4e18)); }

const FoldedValue* input(const onnx::NodeProto& node, int k, const FoldedValues& known) {
  if (k >= node.input_size() || node.input(k).empty()) return nullptr;
  auto it = known.find(node.input(k));
  return it == known.end() ? nullptr : &it->second;
}

// The integers of a folded value with no batch entry.
std::optional<std::vector<int64_t>> ints(const FoldedValue* v) {
  if (!v || !integral(v->elem)) return std::nullopt;
  std::vector<int64_t> out;
  for (const Entry& e : v->entries) {
    if (e.batch || !std::isfinite(e.v)) return std::nullopt;
    out.push_back(to_int(e.v));
  }
  return out;
}

std::optional<std::vector<int64_t>> ints_attribute(const onnx::NodeProto& node, const std::string& name) {
  const onnx::AttributeProto* a = find_attribute(node, name);
  if (!a) return std::nullopt;
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

Result one(FoldedValue v) { return std::vector<FoldedValue>{std::move(v)}; }

// numpy broadcasting of the inputs, `combine` applied to each position's entries.
Result broadcast(const std::vector<const FoldedValue*>& ins, int elem, const Combine& combine) {
  size_t rank = 0;
  for (const FoldedValue* in : ins) {
    if (!in) return std::nullopt;
    rank = std::max(rank, in->dims.size());
  }
  std::vector<int64_t> dims(rank, 1);
  for (const FoldedValue* in : ins)
    for (size_t k = 0; k < in->dims.size(); ++k) {
      int64_t& d = dims[rank - in->dims.size() + k];
      if (in->dims[k] == 1) continue;
      if (d != 1 && d != in->dims[k]) return std::nullopt;
      d = in->dims[k];
    }
  const auto n = count_of(dims);
  if (!n) return std::nullopt;
  FoldedValue out{elem, dims, {}};
  std::vector<Entry> at(ins.size());
  for (int64_t flat = 0; flat < *n; ++flat) {
    for (size_t i = 0; i < ins.size(); ++i) {  // the input's own flat index of this position
      int64_t rest = flat, index = 0, stride = 1;
      for (size_t k = rank; k-- > 0;) {
        const int64_t pos = rest % dims[k];
        rest /= dims[k];
        const size_t offset = rank - ins[i]->dims.size();
        if (k < offset) continue;
        const int64_t d = ins[i]->dims[k - offset];
        index += (d == 1 ? 0 : pos) * stride;
        stride *= d;
      }
      at[i] = ins[i]->entries[static_cast<size_t>(index)];
    }
    auto e = combine(at);
    if (!e) return std::nullopt;
    if (integral(elem) && !e->batch) e->v = std::trunc(e->v);
    out.entries.push_back(*e);
  }
  return one(std::move(out));
}

Result arithmetic(const onnx::NodeProto& node, const FoldedValues& known) {
  const FoldedValue *a = input(node, 0, known), *b = input(node, 1, known);
  if (!a || !b) return std::nullopt;
  const std::string& op = node.op_type();
  return broadcast({a, b}, a->elem, [&](const std::vector<Entry>& e) -> std::optional<Entry> {
    const Entry &x = e[0], &y = e[1];
    if (x.batch && y.batch) return std::nullopt;
    if (x.batch || y.batch) {  // only what leaves the batch size as it is
      const double other = x.batch ? y.v : x.v;
      const bool keeps = ((op == "Add" || (op == "Sub" && x.batch)) && other == 0) ||
                         ((op == "Mul" || (op == "Div" && x.batch)) && other == 1);
      return keeps ? std::optional<Entry>(Entry{0, true}) : std::nullopt;
    }
    if (op == "Add") return Entry{x.v + y.v};
    if (op == "Sub") return Entry{x.v - y.v};
    if (op == "Mul") return Entry{x.v * y.v};
    if (y.v == 0) return std::nullopt;
    return Entry{x.v / y.v};
  });
}

Result equal(const onnx::NodeProto& node, const FoldedValues& known) {
  return broadcast({input(node, 0, known), input(node, 1, known)}, TP::BOOL,
                   [](const std::vector<Entry>& e) -> std::optional<Entry> {
                     if (e[0].batch && e[1].batch) return Entry{1};
                     if (!e[0].batch && !e[1].batch) return Entry{e[0].v == e[1].v ? 1.0 : 0.0};
                     const double other = e[0].batch ? e[1].v : e[0].v;  // a batch holds at least one sample
                     return other < 1 ? std::optional<Entry>(Entry{0}) : std::nullopt;
                   });
}

Result where(const onnx::NodeProto& node, const FoldedValues& known) {
  const FoldedValue* x = input(node, 1, known);
  if (!x) return std::nullopt;
  return broadcast({input(node, 0, known), x, input(node, 2, known)}, x->elem,
                   [](const std::vector<Entry>& e) -> std::optional<Entry> {
                     if (e[0].batch) return std::nullopt;
                     return e[0].v != 0 ? e[1] : e[2];
                   });
}

Result shape(const onnx::NodeProto& node, const FoldedValues& known, const KnownDims& dims) {
  std::vector<Entry> entries;
  if (const FoldedValue* v = input(node, 0, known)) {
    for (int64_t d : v->dims) entries.push_back({static_cast<double>(d)});
  } else {
    auto it = node.input_size() > 0 ? dims.find(node.input(0)) : dims.end();
    if (it == dims.end() || it->second.empty()) return std::nullopt;
    for (size_t k = 0; k < it->second.size(); ++k) {
      if (it->second[k] < 0 && k > 0) return std::nullopt;
      entries.push_back(k == 0 && it->second[0] < 0 ? Entry{0, true} : Entry{static_cast<double>(it->second[k])});
    }
  }
  const auto rank = static_cast<int64_t>(entries.size());
  auto clamp_axis = [&](int64_t a) { return std::clamp(a < 0 ? a + rank : a, int64_t{0}, rank); };
  const int64_t start = clamp_axis(int_attribute(node, "start", 0)), end = clamp_axis(int_attribute(node, "end", rank));
  std::vector<Entry> kept(entries.begin() + start, entries.begin() + std::max(start, end));
  return one({TP::INT64, {static_cast<int64_t>(kept.size())}, kept});
}

Result gather(const onnx::NodeProto& node, const FoldedValues& known) {
  const FoldedValue* data = input(node, 0, known);
  const auto indices = ints(input(node, 1, known));
  const int64_t axis = int_attribute(node, "axis", 0);
  if (!data || !indices || data->dims.size() != 1 || (axis != 0 && axis != -1)) return std::nullopt;
  const int64_t n = data->dims[0];
  FoldedValue out{data->elem, input(node, 1, known)->dims, {}};
  for (int64_t i : *indices) {
    if (i < -n || i >= n) return std::nullopt;
    out.entries.push_back(data->entries[static_cast<size_t>(i < 0 ? i + n : i)]);
  }
  return one(std::move(out));
}

// Unsqueeze and Squeeze: the entries as they are, under other dims.
Result squeeze(const onnx::NodeProto& node, const FoldedValues& known, int64_t opset) {
  const FoldedValue* data = input(node, 0, known);
  if (!data) return std::nullopt;
  const bool unsqueeze = node.op_type() == "Unsqueeze";
  auto axes = opset >= 13 ? ints(input(node, 1, known)) : ints_attribute(node, "axes");
  if (opset >= 13 && node.input_size() > 1 && !axes) return std::nullopt;
  const auto rank = static_cast<int64_t>(data->dims.size() + (unsqueeze && axes ? axes->size() : 0));
  if (rank > 8 || (unsqueeze && !axes)) return std::nullopt;
  std::vector<bool> marked(static_cast<size_t>(rank), false);
  for (int64_t a : axes.value_or(std::vector<int64_t>{})) {
    if (a < -rank || a >= rank || marked[static_cast<size_t>(a < 0 ? a + rank : a)]) return std::nullopt;
    marked[static_cast<size_t>(a < 0 ? a + rank : a)] = true;
  }
  FoldedValue out{data->elem, {}, data->entries};
  for (int64_t k = 0, from = 0; k < rank; ++k) {
    if (unsqueeze) {
      out.dims.push_back(marked[static_cast<size_t>(k)] ? 1 : data->dims[static_cast<size_t>(from++)]);
    } else if (marked[static_cast<size_t>(k)] || (!axes && data->dims[static_cast<size_t>(k)] == 1)) {
      if (data->dims[static_cast<size_t>(k)] != 1) return std::nullopt;
    } else {
      out.dims.push_back(data->dims[static_cast<size_t>(k)]);
    }
  }
  return one(std::move(out));
}

Result concat(const onnx::NodeProto& node, const FoldedValues& known) {
  const int64_t axis = int_attribute(node, "axis", 0);
  if (axis != 0 && axis != -1) return std::nullopt;
  FoldedValue out{TP::INT64, {0}, {}};
  for (int k = 0; k < node.input_size(); ++k) {
    const FoldedValue* v = input(node, k, known);
    if (!v || v->dims.size() != 1) return std::nullopt;
    out.elem = v->elem;
    out.entries.insert(out.entries.end(), v->entries.begin(), v->entries.end());
  }
  out.dims[0] = static_cast<int64_t>(out.entries.size());
  if (out.dims[0] > kMaxFoldedValues) return std::nullopt;
  return one(std::move(out));
}

// Slice of a 1-D value, with Python's clamping of starts and ends.
Result slice(const onnx::NodeProto& node, const FoldedValues& known, int64_t opset) {
  const FoldedValue* data = input(node, 0, known);
  const bool inputs = opset >= 10;
  const auto starts = inputs ? ints(input(node, 1, known)) : ints_attribute(node, "starts");
  const auto ends = inputs ? ints(input(node, 2, known)) : ints_attribute(node, "ends");
  const auto axes = inputs ? ints(input(node, 3, known)) : ints_attribute(node, "axes");
  const auto steps = inputs ? ints(input(node, 4, known)) : std::nullopt;
  if (!data || data->dims.size() != 1 || !starts || !ends || starts->size() != 1 || ends->size() != 1) return std::nullopt;
  if ((axes && (axes->size() != 1 || (axes->at(0) != 0 && axes->at(0) != -1))) ||
      (inputs && node.input_size() > 3 && !node.input(3).empty() && !axes))
    return std::nullopt;
  if ((steps && steps->size() != 1) || (inputs && node.input_size() > 4 && !node.input(4).empty() && !steps))
    return std::nullopt;
  const int64_t n = data->dims[0], step = steps ? steps->at(0) : 1;
  if (step == 0) return std::nullopt;
  auto bound = [&](int64_t v, int64_t low, int64_t high) { return std::clamp(v < 0 ? v + n : v, low, high); };
  FoldedValue out{data->elem, {0}, {}};
  if (step > 0)
    for (int64_t i = bound(starts->at(0), 0, n), end = bound(ends->at(0), 0, n); i < end; i += step)
      out.entries.push_back(data->entries[static_cast<size_t>(i)]);
  else
    for (int64_t i = bound(starts->at(0), -1, n - 1), end = bound(ends->at(0), -1, n - 1); i > end; i += step)
      out.entries.push_back(data->entries[static_cast<size_t>(i)]);
  out.dims[0] = static_cast<int64_t>(out.entries.size());
  return one(std::move(out));
}

// Reshape of a folded value (ViT's Reshape of the shape it builds for Expand): the entries as they
// are, under the target's dims (0 copies an axis unless allowzero, one -1 takes the rest).
Result reshape(const onnx::NodeProto& node, const FoldedValues& known) {
  const FoldedValue* data = input(node, 0, known);
  auto target = ints(input(node, 1, known));
  if (!data || !target || target->size() > 8) return std::nullopt;
  const bool copy_zero = int_attribute(node, "allowzero", 0) == 0;
  const auto count = static_cast<int64_t>(data->entries.size());
  int64_t known_count = 1;
  int inferred = -1;
  for (size_t k = 0; k < target->size(); ++k) {
    int64_t& d = (*target)[k];
    if (d == 0 && copy_zero) {
      if (k >= data->dims.size()) return std::nullopt;
      d = data->dims[k];
    }
    if (d == -1 && inferred < 0) inferred = static_cast<int>(k);
    else if (d < 0 || (d > 0 && known_count > kMaxFoldedValues / d)) return std::nullopt;
    else known_count *= d;
  }
  if (inferred >= 0) {
    if (known_count == 0 || count % known_count != 0) return std::nullopt;
    (*target)[static_cast<size_t>(inferred)] = count / known_count;
  } else if (known_count != count) {
    return std::nullopt;
  }
  return one({data->elem, *target, data->entries});
}

Result cast(const onnx::NodeProto& node, const FoldedValues& known) {
  const FoldedValue* v = input(node, 0, known);
  const auto to = static_cast<int>(int_attribute(node, "to", 0));
  if (!v || (to != TP::FLOAT && to != TP::DOUBLE && !integral(to))) return std::nullopt;
  FoldedValue out{to, v->dims, v->entries};
  for (Entry& e : out.entries) {
    if (to == TP::BOOL) e = Entry{e.batch || e.v != 0 ? 1.0 : 0.0};
    else if (integral(to) && !e.batch) e.v = std::trunc(e.v);
  }
  return one(std::move(out));
}

Result constant_of_shape(const onnx::NodeProto& node, const FoldedValues& known) {
  const auto dims = ints(input(node, 0, known));
  const auto n = dims ? count_of(*dims) : std::nullopt;
  if (!n || dims->size() > 8) return std::nullopt;
  FoldedValue fill{TP::FLOAT, {1}, {Entry{0}}};
  if (const onnx::AttributeProto* a = find_attribute(node, "value")) {
    auto v = a->has_t() ? folded_from_tensor(a->t()) : std::nullopt;
    if (!v || v->entries.size() != 1) return std::nullopt;
    fill = *v;
  }
  return one({fill.elem, *dims, std::vector<Entry>(static_cast<size_t>(*n), fill.entries[0])});
}

Result range(const onnx::NodeProto& node, const FoldedValues& known) {
  const FoldedValue *start = input(node, 0, known), *limit = input(node, 1, known), *delta = input(node, 2, known);
  for (const FoldedValue* v : {start, limit, delta})
    if (!v || v->entries.size() != 1 || v->entries[0].batch) return std::nullopt;
  const double from = start->entries[0].v, step = delta->entries[0].v;
  if (step == 0) return std::nullopt;
  const double count = std::max(std::ceil((limit->entries[0].v - from) / step), 0.0);
  if (!(count <= static_cast<double>(kMaxFoldedValues))) return std::nullopt;
  FoldedValue out{start->elem, {static_cast<int64_t>(count)}, {}};
  for (int64_t k = 0; k < out.dims[0]; ++k) out.entries.push_back({from + static_cast<double>(k) * step});
  return one(std::move(out));
}

}  // namespace

std::optional<FoldedValue> folded_from_tensor(const onnx::TensorProto& t) {
  const std::vector<int64_t> dims(t.dims().begin(), t.dims().end());
  if (dims.size() > 8 || !count_of(dims)) return std::nullopt;
  FoldedValue out{t.data_type(), dims, {}};
  try {
    if (t.data_type() == TP::FLOAT || t.data_type() == TP::DOUBLE) {
      const Tensor values = read_float_tensor(t, "a folded value");  // kept alive: values() is a view
      for (float v : values.values()) out.entries.push_back({v});
    } else if (t.data_type() == TP::INT64 || t.data_type() == TP::INT32) {
      for (int64_t v : read_int64_tensor(t, "a folded value")) out.entries.push_back({static_cast<double>(v)});
    } else {
      return std::nullopt;
    }
  } catch (const std::runtime_error&) {
    return std::nullopt;  // a malformed constant: its reader's converter says what is wrong
  }
  return out;
}

std::optional<std::vector<FoldedValue>> evaluate(const onnx::NodeProto& node, const FoldedValues& known,
                                                 const KnownDims& dims, int64_t opset) {
  const std::string& op = node.op_type();
  if (node.output_size() != 1) return std::nullopt;
  if (op == "Shape") return shape(node, known, dims);
  if (op == "Gather") return gather(node, known);
  if (op == "Unsqueeze" || op == "Squeeze") return squeeze(node, known, opset);
  if (op == "Concat") return concat(node, known);
  if (op == "Slice") return slice(node, known, opset);
  if (op == "Cast") return cast(node, known);
  if (op == "Reshape") return reshape(node, known);
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") return arithmetic(node, known);
  if (op == "Equal") return equal(node, known);
  if (op == "Where") return where(node, known);
  if (op == "ConstantOfShape") return constant_of_shape(node, known);
  if (op == "Range") return range(node, known);
  if (op == "Identity" && input(node, 0, known)) return one(*input(node, 0, known));
  return std::nullopt;
}

}  // namespace gradflow::onnx_io
