// embedding and positional_embedding: numbers against PyTorch (tests/reference/torch_sequence_reference.py),
// gradients against finite differences, repeated ids accumulating, bit-identical results at 1
// and 2 threads, and the errors for bad token ids (at load time from data, and in forward) and
// for a sequence longer than max_length.
#include <catch2/catch.hpp>

#include <fstream>
#include <stdexcept>

#include "framework/graph_fixtures.hpp"
#include "sequence_cases.hpp"
#include "support/temp_dir.hpp"

using namespace gradflow;
using namespace gradflow::test;
using Lines = std::vector<std::string>;

namespace {

double embedding_weight_at(int64_t k) { return 0.1 * static_cast<double>(k) - 0.5 + std::sin(static_cast<double>(k)); }
double positional_weight_at(int64_t k) { return 0.2 * std::cos(static_cast<double>(k)); }

// The script's embedding: 5 ids of 3 values; its batch of two sequences repeats ids 1 and 3.
std::unique_ptr<Operator> torch_embedding() {
  auto op = make_op("embedding", {{"num_embeddings", int64_t{5}}, {"embedding_dim", int64_t{3}}});
  op->infer_shape(std::vector<Shape>{{4}});
  op->parameters()[0].value = formula({5, 3}, embedding_weight_at);
  return op;
}
const Tensor kTorchIds({2, 4}, {1, 3, 1, 0, 4, 1, 3, 3});

std::unique_ptr<Operator> embedding_in(const std::string& node, int64_t num, int64_t dim, int64_t length) {
  auto op = make_op("embedding", {{"num_embeddings", num}, {"embedding_dim", dim}});
  op->infer_shape(std::vector<Shape>{{length}});
  Rng rng(3);
  op->init_parameters(rng);
  RunContext context;
  context.node = node;
  op->begin_pass(context);
  return op;
}

Tensor random_ids(const Shape& shape, int64_t num, uint64_t seed) {
  Tensor ids(shape);
  Rng rng(seed);
  for (float& v : ids.values()) v = static_cast<float>(std::floor(rng.uniform(0.0, static_cast<double>(num))));
  return ids;
}

// A graph reading token ids x [4] through `embed` (8 ids), with [4] class targets.
std::string ids_graph(const std::string& data) {
  return R"(inputs: {x: {shape: [4]}, y: {shape: [4]}}
nodes:
  - {name: embed, op: embedding, inputs: [x], num_embeddings: 8, embedding_dim: 3}
  - {name: logits, op: linear, inputs: [embed], units: 8}
  - {name: loss, op: cross_entropy, inputs: [logits, y]}
  - {name: opt, op: sgd, inputs: [loss], lr: 0.1}
data:
  train:
)" + data;
}

}  // namespace

TEST_CASE("embedding matches torch: output, scattered weight gradient of repeated ids, one SGD step",
          "[embedding][torch]") {
  auto op = torch_embedding();
  check_one_step(*op, kTorchIds, kEmbedding, false);
}

TEST_CASE("embedding: an id's gradient row is the sum of its tokens' rows; ids get a zero gradient", "[embedding]") {
  auto op = torch_embedding();
  const std::vector<const Tensor*> in{&kTorchIds};
  Tensor out, gids({1});
  op->forward(in, out);
  Tensor g(out.shape());
  g.fill(1.0f);
  gids.fill(5.0f);
  std::vector<Tensor*> grads{&gids};
  size_gradients(in, grads);  // as the model does before backward
  op->backward(in, out, g, grads);
  const Tensor& gw = op->parameters()[0].grad;
  const float counts[5] = {1, 3, 0, 3, 1};  // id 1 three times, id 3 three times, id 2 never
  for (int64_t k = 0; k < 5; ++k)
    for (int64_t j = 0; j < 3; ++j) CHECK(gw[k * 3 + j] == counts[k]);
  REQUIRE(gids.shape() == kTorchIds.shape());
  for (float v : gids.values()) CHECK(v == 0.0f);
}

TEST_CASE("embedding and positional_embedding gradients match finite differences", "[embedding][gradcheck]") {
  auto embed = torch_embedding();
  gradcheck(*embed, {kTorchIds}, {false});
  auto pos = make_op("positional_embedding", {{"max_length", int64_t{6}}});
  const Tensor x = random_tensor({3, 4, 5}, 9);
  prepare(*pos, {x});
  gradcheck(*pos, {x}, {true});
}

TEST_CASE("positional_embedding matches torch: x + weight[:T], weight rows past T get no gradient",
          "[embedding][torch]") {
  auto op = make_op("positional_embedding", {{"max_length", int64_t{5}}});
  CHECK(op->infer_shape(std::vector<Shape>{{4, 3}}) == Shape{4, 3});
  REQUIRE(op->parameters()[0].value.shape() == Shape{5, 3});
  op->parameters()[0].value = formula({5, 3}, positional_weight_at);
  check_one_step(*op, formula({2, 4, 3}, input_at), kPositional);
}

TEST_CASE("embedding and positional_embedding weights start as N(0, 1) under their checkpoint names", "[embedding]") {
  auto op = embedding_in("embed", 256, 128, 8);
  Parameter& w = op->parameters()[0];
  CHECK(w.name == "weight");
  CHECK(w.value.shape() == Shape{256, 128});
  double sum = 0.0, squares = 0.0;
  for (float v : w.value.values()) sum += v, squares += static_cast<double>(v) * v;
  const double n = static_cast<double>(w.value.size());
  CHECK(std::abs(sum / n) < 0.02);
  CHECK(std::abs(squares / n - 1.0) < 0.03);
}

TEST_CASE("embedding and positional_embedding are bit-identical at 1 and 2 threads (transformer sizes)",
          "[embedding][threads]") {
  const Tensor ids = random_ids({32, 128}, 256, 5);
  auto embed = embedding_in("embed", 256, 128, 128);
  const std::vector<float> one = pass_at(1, *embed, ids);
  CHECK(bit_identical(one, pass_at(2, *embed, ids)));
  auto pos = make_op("positional_embedding", {{"max_length", int64_t{128}}});
  const Tensor x = random_tensor({32, 128, 128}, 6);
  prepare(*pos, {x});
  CHECK(bit_identical(pass_at(1, *pos, x), pass_at(2, *pos, x)));
}

TEST_CASE("embedding: a bad token id in forward names the node, the sample, the position and the value",
          "[embedding][errors]") {
  auto op = embedding_in("embed", 8, 3, 2);
  Tensor out;
  auto message_of = [&](float bad) {
    const Tensor ids({2, 2}, {1, 2, 3, bad});
    try {
      op->forward(std::vector<const Tensor*>{&ids}, out);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message_of(300) == "node 'embed' (op embedding): sample 1, position 1: token id 300 is not an integer in [0, 8)");
  CHECK(message_of(8) == "node 'embed' (op embedding): sample 1, position 1: token id 8 is not an integer in [0, 8)");
  CHECK(message_of(-1) == "node 'embed' (op embedding): sample 1, position 1: token id -1 is not an integer in [0, 8)");
  CHECK(message_of(2.5f) == "node 'embed' (op embedding): sample 1, position 1: token id 2.5 is not an integer in [0, 8)");
  CHECK(message_of(7) == "no error");
}

TEST_CASE("embedding: a bad token id in the data is reported at load time, naming the key, sample and node",
          "[embedding][errors]") {
  CHECK(errors_of(ids_graph("    x: [[1, 2, 3, 4], [0, 7, 256, 1]]\n    y: [[1, 2, 3, 4], [0, 1, 2, 3]]\n")) ==
        Lines{"g.yaml:8:3: error: data.train.x: sample 2, position 2, has value 256, but node 'embed' (op embedding) "
              "expects integer token ids in [0, 8)"});
  CHECK(errors_of(ids_graph("    x: [[1, 2, 3, 4.5]]\n    y: [[1, 2, 3, 4]]\n")) ==
        Lines{"g.yaml:8:3: error: data.train.x: sample 1, position 3, has value 4.5, but node 'embed' (op embedding) "
              "expects integer token ids in [0, 8)"});
  CHECK(errors_of(ids_graph("    x: [[1, 2, 3, 4]]\n    y: [[1, 2, 3, 4]]\n")).empty());
}

TEST_CASE("embedding: a bad token id in a data file names the file and its row", "[embedding][errors]") {
  TempDir dir("gradflow-ids");
  std::ofstream(dir / "d.csv") << "a,b,c,d,e,f,g,h\n1,2,3,4,1,2,3,4\n0,1,-3,2,1,1,2,0\n";
  const std::string yaml =
      ids_graph("    x: {csv: d.csv, header: true, columns: \"0:4\"}\n    y: {csv: d.csv, header: true, columns: \"4:8\"}\n");
  try {
    load_graph_text(yaml, dir / "g.yaml", default_registry());
    FAIL("the graph loaded");
  } catch (const GraphError& e) {
    REQUIRE(e.diagnostics().size() == 1);
    CHECK(e.diagnostics()[0].format() == dir / "g.yaml" + ":8:3: error: data.train.x (" + dir / "d.csv" +
                                             ": row 3), position 2, has value -3, but node 'embed' (op embedding) "
                                             "expects integer token ids in [0, 8)");
  }
}

TEST_CASE("positional_embedding: a sequence longer than max_length is a shape error naming both", "[embedding][errors]") {
  const std::string yaml = R"(inputs: {x: {shape: [6]}}
nodes:
  - {name: embed, op: embedding, inputs: [x], num_embeddings: 8, embedding_dim: 3}
  - {name: pos, op: positional_embedding, inputs: [embed], max_length: 4}
)";
  CHECK(errors_of(yaml) == Lines{"g.yaml:4:5: error: node 'pos' (op positional_embedding): the sequence has T = 6 "
                                 "positions but max_length is 4; expected T <= max_length; its input is 'embed' [6, 3]"});
  auto op = make_op("positional_embedding", {{"max_length", int64_t{4}}});
  CHECK_THROWS_WITH(op->infer_shape(std::vector<Shape>{{3}}),
                    "positional_embedding expects a sequence of vectors [T, E], got [3]");
  auto embed = make_op("embedding", {{"num_embeddings", int64_t{4}}, {"embedding_dim", int64_t{2}}});
  CHECK_THROWS_WITH(embed->infer_shape(std::vector<Shape>{{3, 2}}), "embedding expects token ids of shape [T], got [3, 2]");
}
