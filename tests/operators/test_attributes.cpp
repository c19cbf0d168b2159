// The parser's checks of typed attributes, through the schema of a test operator: ranges
// with both bounds, integer pairs and integer lists.
#include <catch2/catch.hpp>

#include "framework/graph_fixtures.hpp"
#include "gradcheck.hpp"

using namespace gradflow;
using gradflow::test::replace;
using Lines = std::vector<std::string>;

namespace {

AttrSpec spec(const std::string& name, AttrType type, AttrValue default_value) {
  AttrSpec s;
  s.name = name;
  s.type = type;
  s.default_value = std::move(default_value);
  s.help = name;
  return s;
}

// An identity whose attributes exercise the parser: p in [0, 1), size a pair >= 1, dims a list.
struct Probe final : Operator {
  static OpSchema schema() {
    AttrSpec p = spec("p", AttrType::Float, AttrValue{0.5});
    p.min = 0.0;
    p.max = 1.0;
    p.max_exclusive = true;
    AttrSpec size = spec("size", AttrType::IntPair, AttrValue{int64_t{1}});
    size.min = 1.0;
    AttrSpec dims = spec("dims", AttrType::IntList, AttrValue{std::vector<int64_t>{1}});
    return {"probe", OpKind::Layer, "identity", 1, 1, {p, size, dims}};
  }
  explicit Probe(const Attributes& attrs) {
    last_size = attrs.get_pair("size");
    last_dims = attrs.get_ints("dims");
  }
  Shape infer_shape(std::span<const Shape> shapes) override { return shapes[0]; }
  void forward(std::span<const Tensor* const> inputs, Tensor& output) override { output = *inputs[0]; }
  void backward(std::span<const Tensor* const>, const Tensor&, const Tensor& g, std::span<Tensor* const> gi) override {
    if (gi[0]) *gi[0] = g;
  }
  static inline std::array<int64_t, 2> last_size{};
  static inline std::vector<int64_t> last_dims;
};

// The errors of the XOR graph whose sigmoid node is replaced by a probe with `attrs`.
Lines probe_errors(const std::string& attrs) {
  static Registry registry = [] {
    Registry r;
    r.register_all("built-in", register_builtin_operators);
    r.register_all("attribute tests", [](Registrar& reg) { reg.add<Probe>(); });
    return r;
  }();
  const std::string yaml = replace(test::kXor, "op: sigmoid, inputs: [fc1]}", "op: probe, inputs: [fc1], " + attrs + "}");
  Lines lines;
  try {
    test::load(yaml, registry);
  } catch (const GraphError& e) {
    for (const Diagnostic& d : e.diagnostics()) lines.push_back(d.format());
  }
  return lines;
}

// Where the value of attribute `name` starts, the probe's first attribute on line 8.
std::string at(const std::string& name) {
  return "g.yaml:8:" + std::to_string(44 + name.size()) + ": error: node 'h1': attribute '" + name + "' of op 'probe' ";
}

}  // namespace

TEST_CASE("an attribute's upper bound is checked like its lower bound", "[attributes][errors]") {
  CHECK(probe_errors("p: 0").empty());
  CHECK(probe_errors("p: 0.99").empty());
  const std::string range = at("p") + "must be >= 0 and < 1, got ";
  CHECK(probe_errors("p: 1") == Lines{range + "'1'"});
  CHECK(probe_errors("p: 1.5") == Lines{range + "'1.5'"});
  CHECK(probe_errors("p: -0.1") == Lines{range + "'-0.1'"});
}

TEST_CASE("an integer pair is one integer for both sides or a list of two", "[attributes]") {
  CHECK(probe_errors("size: 3").empty());
  CHECK(Probe::last_size == std::array<int64_t, 2>{3, 3});
  CHECK(probe_errors("size: [3, 2]").empty());
  CHECK(Probe::last_size == std::array<int64_t, 2>{3, 2});
  CHECK(probe_errors("dims: [2, -1, 4]").empty());
  CHECK(Probe::last_dims == std::vector<int64_t>{2, -1, 4});
}

TEST_CASE("a bad integer pair or list is an error naming the node and the attribute", "[attributes][errors]") {
  const std::string pair = at("size") + "must be an integer or a list of 2 integers, got ";
  CHECK(probe_errors("size: big") == Lines{pair + "'big'"});
  CHECK(probe_errors("size: 1.5") == Lines{pair + "'1.5'"});
  CHECK(probe_errors("size: [1, 2, 3]") == Lines{pair + "[1, 2, 3]"});
  CHECK(probe_errors("size: [4]") == Lines{pair + "[4]"});
  CHECK(probe_errors("size: [2, 0.5]") == Lines{pair + "[2, 0.5]"});
  CHECK(probe_errors("size: 0") == Lines{at("size") + "must be >= 1, got '0'"});
  CHECK(probe_errors("size: [2, -1]") == Lines{at("size") + "must have every value >= 1, got [2, -1]"});
  const std::string list = at("dims") + "must be a list of integers, got ";
  CHECK(probe_errors("dims: 3") == Lines{list + "'3'"});
  CHECK(probe_errors("dims: []") == Lines{list + "[]"});
  CHECK(probe_errors("dims: [1, x]") == Lines{list + "[1, x]"});
}

TEST_CASE("integer pairs and lists print as lists", "[attributes]") {
  CHECK(to_string(AttrType::IntPair) == std::string("integer or [h, w]"));
  CHECK(to_string(AttrType::IntList) == std::string("list of integers"));
  CHECK(to_string(AttrValue{std::vector<int64_t>{3, -1}}) == "[3, -1]");
}
