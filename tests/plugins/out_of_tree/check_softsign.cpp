// What a plugin author runs on a new operator alone (docs/plugins.md, "Checking the operator
// alone"): load the plugin, build the op through the registry as a graph would, and compare its
// backward with central finite differences, inputs and parameters, with the same library
// gradcheck that gradflow's operator table runs on every built-in.
// Usage: check_softsign PLUGIN.so
#include <cstdio>
#include <vector>

#include <gradflow/gradcheck.hpp>
#include <gradflow/plugin.hpp>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  gradflow::load_plugin(argv[1]);
  const gradflow::OpEntry& entry = *gradflow::default_registry().find("softsign");
  auto op = entry.make_operator(gradflow::Attributes{});  // softsign has no attributes
  op->infer_shape(std::vector<gradflow::Shape>{{3}});    // sample shapes, batch excluded
  gradflow::Rng rng(42);
  op->init_parameters(rng);
  std::vector<gradflow::Tensor> inputs{gradflow::Tensor({2, 3}, {-1.5f, -0.4f, 0.2f, 0.7f, 1.1f, 2.0f})};
  const gradflow::GradcheckReport report =
      gradflow::gradcheck(*op, inputs, {true}, gradflow::GradcheckOptions::for_operator());
  for (const gradflow::GradcheckEntry& e : report.entries)
    if (!e.ok)
      std::printf("MISMATCH %s[%lld]: analytic %g, numeric %g\n", e.tensor.c_str(),
                  static_cast<long long>(e.index), e.analytic, e.numeric);
  std::printf("softsign: %zu elements checked, max |analytic - numeric| = %.3g\n", report.entries.size(),
              report.max_abs_error);
  return report.ok() ? 0 : 1;
}
