// Operator plugins: shared libraries that add operators to gradflow without rebuilding it.
//
// Writing one (docs/plugins.md walks through it):
//
//   #include "gradflow/plugin.hpp"
//   class Swish final : public gradflow::Operator { ... static OpSchema schema(); ... };
//   GRADFLOW_PLUGIN(registrar) { registrar.add<Swish>(); }
//
// and build it with gradflow_add_plugin(NAME SOURCES...) from find_package(gradflow), which
// compiles with hidden visibility and a version script so that the library exports only
// gradflow_plugin_init (plugin_abi.h).
//
// Loading one: load_plugin() below, `plugins:` in a graph file, `graph-runner --plugin PATH`,
// or the directories in GRADFLOW_PLUGIN_PATH. Loading is all-or-nothing: a library whose
// registration fails (an exception, a name that already exists) leaves the registry as it was.
// A loaded library is never unloaded: its operators may live anywhere in the process, so its
// handle is kept until the process exits.
#pragma once

// Everything gradflow declares keeps default visibility inside a plugin built with
// -fvisibility=hidden, so that type identities (Operator, Loss, ...) agree with libgradflow's.
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif
#include <algorithm>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "gradflow/diagnostics.hpp"
#include "gradflow/operator.hpp"
#include "gradflow/plugin_abi.h"
#include "gradflow/registry.hpp"
#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

// C++ objects (Registrar, Operator, std::string) cross the library boundary, so a plugin must
// be built by the same compiler (major version), against the same C++ library ABI and the
// same gradflow version as the gradflow that loads it. This string names all three; the
// plugin compares its own with the host's and refuses to register on any difference.
// The top-level CMakeLists.txt checks that this matches project(gradflow VERSION ...).
#define GRADFLOW_VERSION_STRING "0.1.0"
#define GRADFLOW_DETAIL_STR2(x) #x
#define GRADFLOW_DETAIL_STR(x) GRADFLOW_DETAIL_STR2(x)
#if defined(__clang__)
#define GRADFLOW_DETAIL_COMPILER "clang " GRADFLOW_DETAIL_STR(__clang_major__)
#elif defined(__GNUC__)
#define GRADFLOW_DETAIL_COMPILER "gcc " GRADFLOW_DETAIL_STR(__GNUC__)
#elif defined(_MSC_VER)
#define GRADFLOW_DETAIL_COMPILER "msvc " GRADFLOW_DETAIL_STR(_MSC_VER)
#else
#define GRADFLOW_DETAIL_COMPILER "unknown compiler"
#endif
#if defined(_GLIBCXX_USE_CXX11_ABI)
#define GRADFLOW_DETAIL_STDLIB "libstdc++ cxx11-abi=" GRADFLOW_DETAIL_STR(_GLIBCXX_USE_CXX11_ABI)
#elif defined(_LIBCPP_ABI_VERSION)
#define GRADFLOW_DETAIL_STDLIB "libc++ abi=" GRADFLOW_DETAIL_STR(_LIBCPP_ABI_VERSION)
#else
#define GRADFLOW_DETAIL_STDLIB "unknown C++ library"
#endif
#define GRADFLOW_BUILD_FINGERPRINT \
  "gradflow " GRADFLOW_VERSION_STRING "; " GRADFLOW_DETAIL_COMPILER "; " GRADFLOW_DETAIL_STDLIB

#if defined(_WIN32)
#define GRADFLOW_PLUGIN_EXPORT __declspec(dllexport)
#else
#define GRADFLOW_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

namespace gradflow {

// ---------------------------------------------------------------------------------------------
// Plugin side.

namespace plugin_detail {

inline void set_error(gradflow_plugin_result* result, const std::string& message) noexcept {
  const size_t n = std::min(message.size(), sizeof(result->error) - 1);
  std::memcpy(result->error, message.data(), n);
  result->error[n] = '\0';
}

// The body of gradflow_plugin_init: handshake, then registration, with every exception turned
// into an error code and message. Compiled into the plugin (hidden), never into gradflow.
inline int run_init(const gradflow_host_info* host, gradflow_plugin_result* result,
                    void (*register_operators)(Registrar&)) noexcept {
  if (result == nullptr || result->struct_size < sizeof(gradflow_plugin_result))
    return GRADFLOW_PLUGIN_ERR_BAD_ARGUMENT;
  result->api_version = GRADFLOW_PLUGIN_API_VERSION;
  result->error[0] = '\0';
  try {
    if (host == nullptr || host->struct_size < sizeof(gradflow_host_info)) {
      set_error(result, "gradflow passed no host information");
      return GRADFLOW_PLUGIN_ERR_BAD_ARGUMENT;
    }
    if (host->api_version != GRADFLOW_PLUGIN_API_VERSION) {
      set_error(result, "plugin built for gradflow plugin API " +
                            std::to_string(GRADFLOW_PLUGIN_API_VERSION) + ", this gradflow supports " +
                            std::to_string(host->api_version));
      return GRADFLOW_PLUGIN_ERR_API_VERSION;
    }
    const char* host_fingerprint = host->build_fingerprint ? host->build_fingerprint : "";
    if (std::strcmp(host_fingerprint, GRADFLOW_BUILD_FINGERPRINT) != 0) {
      set_error(result, std::string("plugin built with '") + GRADFLOW_BUILD_FINGERPRINT +
                            "', this gradflow was built with '" + host_fingerprint +
                            "'; rebuild the plugin against this gradflow");
      return GRADFLOW_PLUGIN_ERR_FINGERPRINT;
    }
    if (host->registrar == nullptr) {
      set_error(result, "gradflow passed no registrar");
      return GRADFLOW_PLUGIN_ERR_BAD_ARGUMENT;
    }
    register_operators(*static_cast<Registrar*>(host->registrar));
    return GRADFLOW_PLUGIN_OK;
  } catch (const std::exception& e) {
    set_error(result, std::string("registration failed: ") + e.what());
  } catch (...) {
    set_error(result, "registration failed: unknown exception");
  }
  return GRADFLOW_PLUGIN_ERR_REGISTRATION;
}

}  // namespace plugin_detail

}  // namespace gradflow

// Defines the plugin's entry point; the block that follows receives the Registrar that the
// built-in operators use:  GRADFLOW_PLUGIN(registrar) { registrar.add<MyOp>(); }
#define GRADFLOW_PLUGIN(registrar_name)                                                        \
  static void gradflow_plugin_register_operators(::gradflow::Registrar& registrar_name);      \
  extern "C" GRADFLOW_PLUGIN_EXPORT int gradflow_plugin_init(const gradflow_host_info* host,  \
                                                             gradflow_plugin_result* result) { \
    return ::gradflow::plugin_detail::run_init(host, result,                                   \
                                               &gradflow_plugin_register_operators);           \
  }                                                                                            \
  static void gradflow_plugin_register_operators(::gradflow::Registrar& registrar_name)

namespace gradflow {

// ---------------------------------------------------------------------------------------------
// Host side (libgradflow).

// A plugin that could not be loaded; what() reads "PATH: what went wrong".
struct PluginError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct LoadedPlugin {
  std::string path;                    // absolute; the `origin` of its operators
  std::vector<std::string> operators;  // the names it registered
};

// Loads the plugin at `path` into `registry`: checks the file, dlopens it (RTLD_NOW |
// RTLD_LOCAL), runs the handshake and registers its operators, all or nothing. Loading a
// library already loaded into `registry` is a no-op. Throws PluginError.
const LoadedPlugin& load_plugin(const std::filesystem::path& path,
                                Registry& registry = default_registry());

// Every plugin loaded so far, in load order.
std::vector<LoadedPlugin> loaded_plugins();

// The libraries named by a search path like GRADFLOW_PLUGIN_PATH: ':'-separated entries, each
// a directory (every *.so in it, sorted by name) or a library file. Missing entries are skipped.
std::vector<std::filesystem::path> plugins_on_search_path(const std::string& search_path);

// Loads every library on $GRADFLOW_PLUGIN_PATH (nothing when unset). Throws PluginError.
void load_plugins_from_environment(Registry& registry = default_registry());

// A ParseOptions::load_plugin that loads `plugins:` entries into `registry` and reports
// failures as diagnostics at the entry's YAML location.
std::function<void(const std::filesystem::path&, const SourceLocation&, Diagnostics&)>
graph_plugin_loader(Registry& registry = default_registry());

}  // namespace gradflow
