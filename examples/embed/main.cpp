// Runs a trained XOR network from C++: load a graph and its checkpoint, feed our own buffer.
//
//   graph-runner train graphs/xor.yaml --save xor.safetensors
//   embed-example xor.safetensors [graphs/xor.yaml]
#include <gradflow/predictor.hpp>

#include <cstdio>
#include <exception>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s CHECKPOINT [GRAPH (default graphs/xor.yaml)]\n", argv[0]);
    return 2;
  }
  try {
    // Parse and build the graph, then load the trained weights into it.
    auto predictor = gradflow::Predictor::load(argc == 3 ? argv[2] : "graphs/xor.yaml", argv[1]);

    // Our samples, one after another: xor.yaml's input x has 2 values per sample.
    const std::vector<float> input = {0, 0,  0, 1,  1, 0,  1, 1};
    const int64_t samples = 4;

    // One output value per sample (xor.yaml's `out`), in the same order as the samples.
    const std::vector<float> output = predictor.predict(input, samples);

    for (size_t i = 0; i < output.size(); ++i)
      std::printf("%g xor %g -> %.4f\n", input[2 * i], input[2 * i + 1], output[i]);
    return 0;
  } catch (const std::exception& e) {  // a bad file: the message names it
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
