// The plugin loader: handshake, all-or-nothing registration, and every error it reports.
#include <dlfcn.h>

#include <catch2/catch.hpp>

#include <cstring>
#include <string>

#include "gradflow/graph_file.hpp"
#include "gradflow/graph_spec.hpp"
#include "gradflow/model.hpp"
#include "gradflow/plugin.hpp"
#include "gradflow/scheduler.hpp"

using namespace gradflow;
using Catch::Matchers::Contains;

namespace {

// A registry like the default one, private to the test, so that tests do not see each other's
// plugins.
struct FreshRegistry {
  Registry registry;
  FreshRegistry() { registry.register_all("built-in", register_builtin_operators); }
};

std::string load_error(Registry& registry, const std::string& path) {
  try {
    load_plugin(path, registry);
  } catch (const PluginError& e) {
    return e.what();
  }
  return "(loaded without error)";
}

std::string canonical(const std::string& path) {
  return std::filesystem::weakly_canonical(path).string();
}

}  // namespace

TEST_CASE("a plugin registers its operators with the library as their origin") {
  FreshRegistry fresh;
  const LoadedPlugin& loaded = load_plugin(GF_SWISH_PLUGIN, fresh.registry);
  CHECK(loaded.path == canonical(GF_SWISH_PLUGIN));
  CHECK(loaded.operators == std::vector<std::string>{"swish"});
  const OpEntry* swish = fresh.registry.find("swish");
  REQUIRE(swish != nullptr);
  CHECK(swish->origin == canonical(GF_SWISH_PLUGIN));
  CHECK(fresh.registry.find("relu")->origin == "built-in");
  // Loading it again is a no-op, not a duplicate.
  const size_t count = fresh.registry.names().size();
  CHECK_NOTHROW(load_plugin(GF_SWISH_PLUGIN, fresh.registry));
  CHECK(fresh.registry.names().size() == count);
}

TEST_CASE("a missing file is reported with its path") {
  FreshRegistry fresh;
  CHECK(load_error(fresh.registry, "/nonexistent/libnothing.so") ==
        "/nonexistent/libnothing.so: cannot load plugin: no such file");
}

TEST_CASE("a file that is not a shared library is refused") {
  FreshRegistry fresh;
  CHECK(load_error(fresh.registry, GF_FAKE_PLUGIN) ==
        std::string(GF_FAKE_PLUGIN) + ": cannot load plugin: not a shared library (no ELF header)");
}

TEST_CASE("a shared library without the entry point is not a plugin") {
  FreshRegistry fresh;
  CHECK_THAT(load_error(fresh.registry, GF_NO_ENTRY_PLUGIN),
             Contains(std::string(GF_NO_ENTRY_PLUGIN) +
                      ": not a gradflow plugin: no gradflow_plugin_init symbol"));
}

TEST_CASE("a plugin built for another API version is refused, naming both versions") {
  FreshRegistry fresh;
  const size_t count = fresh.registry.names().size();
  CHECK(load_error(fresh.registry, GF_BAD_VERSION_PLUGIN) ==
        std::string(GF_BAD_VERSION_PLUGIN) +
            ": plugin built for gradflow plugin API 7, this gradflow supports 6");
  CHECK(fresh.registry.names().size() == count);
}

TEST_CASE("the plugin side of the handshake refuses another host version or build") {
  void* handle = dlopen(GF_SWISH_PLUGIN, RTLD_NOW | RTLD_LOCAL);
  REQUIRE(handle != nullptr);
  void* symbol = dlsym(handle, GRADFLOW_PLUGIN_ENTRY_SYMBOL);
  REQUIRE(symbol != nullptr);
  gradflow_plugin_init_fn init;
  std::memcpy(&init, &symbol, sizeof(init));

  gradflow_host_info host{};
  host.struct_size = sizeof(host);
  host.registrar = nullptr;  // must not be touched
  gradflow_plugin_result result{};
  result.struct_size = sizeof(result);

  host.api_version = 7;
  host.build_fingerprint = GRADFLOW_BUILD_FINGERPRINT;
  CHECK(init(&host, &result) == GRADFLOW_PLUGIN_ERR_API_VERSION);
  CHECK(result.api_version == GRADFLOW_PLUGIN_API_VERSION);
  CHECK(std::string(result.error) == "plugin built for gradflow plugin API 6, this gradflow supports 7");

  host.api_version = GRADFLOW_PLUGIN_API_VERSION;
  host.build_fingerprint = "gradflow 9.9.9; gcc 3; libstdc++ cxx11-abi=0";
  CHECK(init(&host, &result) == GRADFLOW_PLUGIN_ERR_FINGERPRINT);
  CHECK_THAT(std::string(result.error), Contains(GRADFLOW_BUILD_FINGERPRINT) &&
                                            Contains("gradflow 9.9.9; gcc 3; libstdc++ cxx11-abi=0"));
  dlclose(handle);
}

TEST_CASE("a plugin may not override a built-in operator") {
  FreshRegistry fresh;
  CHECK(load_error(fresh.registry, GF_DUP_RELU_PLUGIN) ==
        "operator 'relu' from " + canonical(GF_DUP_RELU_PLUGIN) +
            " is already registered by built-in");
  CHECK(fresh.registry.find("relu")->origin == "built-in");
}

TEST_CASE("a library whose registration fails halfway leaves the registry as it was") {
  FreshRegistry fresh;
  const std::vector<std::string> before = fresh.registry.names();
  SECTION("a duplicate in second place") {
    CHECK(load_error(fresh.registry, GF_DUP_SECOND_PLUGIN) ==
          "operator 'sigmoid' from " + canonical(GF_DUP_SECOND_PLUGIN) +
              " is already registered by built-in");
    CHECK(fresh.registry.find("test_first_ok") == nullptr);
  }
  SECTION("an exception after a first registration") {
    CHECK(load_error(fresh.registry, GF_INIT_THROWS_PLUGIN) ==
          std::string(GF_INIT_THROWS_PLUGIN) +
              ": registration failed: cannot find my configuration");
    CHECK(fresh.registry.find("test_before_throw") == nullptr);
  }
  CHECK(fresh.registry.names() == before);
}

TEST_CASE("plugins: in a graph file are loaded relative to it, errors at their line") {
  FreshRegistry fresh;
  const std::filesystem::path dir = std::filesystem::path(GF_SWISH_PLUGIN).parent_path();
  ParseOptions options;
  options.load_plugin = graph_plugin_loader(fresh.registry);
  const std::string graph =
      "graph: g\n"
      "plugins: [libswish.so, libmissing.so]\n"
      "inputs: {x: {shape: [2]}}\n"
      "nodes:\n"
      "  - {name: h, op: swish, inputs: [x]}\n";
  Diagnostics diagnostics;
  parse_graph_text(graph, dir / "g.yaml", fresh.registry, diagnostics, options);
  REQUIRE(diagnostics.size() == 1);
  const Diagnostic& d = diagnostics.list()[0];
  CHECK(d.where.line == 2);
  CHECK(d.where.column == 24);
  CHECK(d.message == (dir / "libmissing.so").string() + ": cannot load plugin: no such file");
  CHECK(fresh.registry.find("swish") != nullptr);
}

TEST_CASE("an exception in a plugin operator names the node and operator") {
  FreshRegistry fresh;
  load_plugin(GF_THROWING_PLUGIN, fresh.registry);
  for (const char* pass : {"forward", "backward"}) {
    DYNAMIC_SECTION(pass) {
      const std::string graph = std::string(
                                    "graph: g\n"
                                    "inputs: {x: {shape: [2]}, y: {shape: [1]}}\n"
                                    "nodes:\n"
                                    "  - {name: fc, op: linear, inputs: [x], units: 1}\n"
                                    "  - {name: bad, op: test_throw, inputs: [fc], fail_in: ") +
                                pass +
                                "}\n"
                                "  - {name: loss, op: mse, inputs: [bad, y]}\n"
                                "  - {name: opt, op: sgd, inputs: [loss], lr: 0.1}\n"
                                "data: {train: {x: [[0, 1]], y: [[1]]}}\n";
      LoadedGraph loaded = load_graph_text(graph, "g.yaml", fresh.registry);
      auto& model = loaded.model;
      const DataSets& data = loaded.data;
      REQUIRE(model);
      model->init_parameters(0);
      const std::vector<int64_t> first{0};
      model->load_batch(data.train, first);
      const std::string expected = std::string("node 'bad' (op test_throw) failed in the ") + pass +
                                   " pass: test_throw: asked to fail in " + pass;
      try {
        model->forward();
        model->backward();
        FAIL("no error");
      } catch (const NodeError& e) {
        CHECK(std::string(e.what()) == expected);
      }
    }
  }
}

TEST_CASE("GRADFLOW_PLUGIN_PATH lists libraries in directories and files") {
  const std::filesystem::path dir = std::filesystem::path(GF_SWISH_PLUGIN).parent_path();
  const auto found = plugins_on_search_path("/nonexistent:" + dir.string() + "::" + GF_THROWING_PLUGIN);
  REQUIRE(found.size() >= 3);
  CHECK(std::find(found.begin(), found.end(), dir / "libswish.so") != found.end());
  CHECK(std::find(found.begin(), found.end(), dir / "libscale.so") != found.end());
  CHECK(found.back() == std::filesystem::path(GF_THROWING_PLUGIN));
}
