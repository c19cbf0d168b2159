// Loads operator plugins (gradflow/plugin.hpp): dlopen, handshake, transactional registration.
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <system_error>

#include "gradflow/plugin.hpp"

namespace gradflow {

namespace {

struct Library {
  LoadedPlugin info;
  void* handle = nullptr;
};

// Every library loaded so far. Never destroyed and never dlclose'd: operators made by a
// plugin's factories may be alive anywhere (even during static destruction), and their code
// and vtables live in the library.
struct LoadedLibraries {
  std::mutex mutex;
  std::vector<std::unique_ptr<Library>> list;
};

LoadedLibraries& libraries() {
  static auto* loaded = new LoadedLibraries;
  return *loaded;
}

// Records the names a plugin registers on their way to the staging registrar.
class RecordingRegistrar final : public Registrar {
 public:
  RecordingRegistrar(Registrar& target, std::vector<std::string>& names)
      : target_(target), names_(names) {}
  void add_operator(OpSchema schema, OperatorFactory factory) override {
    names_.push_back(schema.name);
    target_.add_operator(std::move(schema), std::move(factory));
  }
  void add_optimizer(OpSchema schema, OptimizerFactory factory) override {
    names_.push_back(schema.name);
    target_.add_optimizer(std::move(schema), std::move(factory));
  }

 private:
  Registrar& target_;
  std::vector<std::string>& names_;
};

// Closes a handle unless released: a library whose loading failed leaves nothing behind.
struct HandleGuard {
  void* handle;
  ~HandleGuard() {
    if (handle) dlclose(handle);
  }
};

std::string dl_error(const std::string& path) {
  const char* message = dlerror();
  std::string text = message ? message : "unknown error";
  // glibc repeats the path: "PATH: invalid ELF header".
  if (text.rfind(path + ": ", 0) == 0) text.erase(0, path.size() + 2);
  return text;
}

bool has_elf_header(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, sizeof(magic));
  return in.gcount() == 4 && magic[0] == '\x7f' && magic[1] == 'E' && magic[2] == 'L' &&
         magic[3] == 'F';
}

Library* find_library(const std::string& path) {
  for (const auto& library : libraries().list)
    if (library->info.path == path) return library.get();
  return nullptr;
}

// Whether `registry` holds operators from the library at `path` already.
bool registered_in(const Registry& registry, const std::string& path) {
  for (const OpEntry* entry : registry.entries())
    if (entry->origin == path) return true;
  return false;
}

}  // namespace

const LoadedPlugin& load_plugin(const std::filesystem::path& requested, Registry& registry) {
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(requested, ec).lexically_normal();
  if (ec) absolute = requested;
  const std::string shown = requested.string();

  std::lock_guard lock(libraries().mutex);
  if (!std::filesystem::exists(absolute, ec))
    throw PluginError(shown + ": cannot load plugin: no such file");
  if (std::filesystem::is_directory(absolute, ec))
    throw PluginError(shown + ": cannot load plugin: is a directory, not a shared library");
  std::filesystem::path canonical = std::filesystem::weakly_canonical(absolute, ec);
  if (ec) canonical = absolute;
  const std::string path = canonical.string();
  Library* known = find_library(path);
  if (known && registered_in(registry, path)) return known->info;

#if defined(__linux__)
  if (!has_elf_header(canonical))
    throw PluginError(shown + ": cannot load plugin: not a shared library (no ELF header)");
#endif
  dlerror();
  HandleGuard guard{dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)};
  if (!guard.handle) throw PluginError(shown + ": cannot load plugin: " + dl_error(path));

  dlerror();
  void* symbol = dlsym(guard.handle, GRADFLOW_PLUGIN_ENTRY_SYMBOL);
  if (!symbol)
    throw PluginError(shown + ": not a gradflow plugin: no " GRADFLOW_PLUGIN_ENTRY_SYMBOL
                              " symbol (build it with gradflow_add_plugin(), which exports it)");
  gradflow_plugin_init_fn init;
  static_assert(sizeof(init) == sizeof(symbol));
  std::memcpy(&init, &symbol, sizeof(init));  // POSIX: object pointer to function pointer

  auto library = std::make_unique<Library>();
  library->info.path = path;
  const std::string fingerprint = GRADFLOW_BUILD_FINGERPRINT;
  try {
    registry.register_all(path, [&](Registrar& staging) {
      RecordingRegistrar recording(staging, library->info.operators);
      gradflow_host_info host{};
      host.struct_size = sizeof(host);
      host.api_version = GRADFLOW_PLUGIN_API_VERSION;
      host.build_fingerprint = fingerprint.c_str();
      host.registrar = static_cast<Registrar*>(&recording);
      gradflow_plugin_result result{};
      result.struct_size = sizeof(result);
      result.api_version = 0;
      const int status = init(&host, &result);
      result.error[sizeof(result.error) - 1] = '\0';
      // The version check is the host's own, so that the message holds even for a plugin whose
      // idea of the rest of the contract differs.
      if (result.api_version != GRADFLOW_PLUGIN_API_VERSION)
        throw PluginError(shown + ": plugin built for gradflow plugin API " +
                          std::to_string(result.api_version) + ", this gradflow supports " +
                          std::to_string(GRADFLOW_PLUGIN_API_VERSION));
      if (status != GRADFLOW_PLUGIN_OK)
        throw PluginError(shown + ": " +
                          (result.error[0] ? std::string(result.error)
                                           : "plugin initialisation failed with status " +
                                                 std::to_string(status)));
    });
  } catch (const PluginError&) {
    throw;
  } catch (const std::exception& e) {
    // A duplicate name: the message names both libraries already.
    throw PluginError(e.what());
  }
  if (known) return known->info;  // loaded before, into another registry: one handle suffices
  library->handle = guard.handle;
  guard.handle = nullptr;  // kept for the life of the process
  libraries().list.push_back(std::move(library));
  return libraries().list.back()->info;
}

std::vector<LoadedPlugin> loaded_plugins() {
  std::lock_guard lock(libraries().mutex);
  std::vector<LoadedPlugin> list;
  for (const auto& library : libraries().list) list.push_back(library->info);
  return list;
}

std::vector<std::filesystem::path> plugins_on_search_path(const std::string& search_path) {
  std::vector<std::filesystem::path> found;
  size_t begin = 0;
  while (begin <= search_path.size()) {
    size_t end = search_path.find(':', begin);
    if (end == std::string::npos) end = search_path.size();
    const std::filesystem::path entry = search_path.substr(begin, end - begin);
    begin = end + 1;
    std::error_code ec;
    if (entry.empty() || !std::filesystem::exists(entry, ec)) continue;
    if (!std::filesystem::is_directory(entry, ec)) {
      found.push_back(entry);
      continue;
    }
    std::vector<std::filesystem::path> in_directory;
    for (const auto& item : std::filesystem::directory_iterator(entry, ec))
      if (item.path().extension() == ".so" && !item.is_directory(ec))
        in_directory.push_back(item.path());
    std::sort(in_directory.begin(), in_directory.end());
    found.insert(found.end(), in_directory.begin(), in_directory.end());
  }
  return found;
}

void load_plugins_from_environment(Registry& registry) {
  const char* search_path = std::getenv("GRADFLOW_PLUGIN_PATH");
  if (!search_path) return;
  for (const auto& path : plugins_on_search_path(search_path)) {
    try {
      load_plugin(path, registry);
    } catch (const PluginError& e) {
      throw PluginError(std::string(e.what()) + " (found on GRADFLOW_PLUGIN_PATH)");
    }
  }
}

std::function<void(const std::filesystem::path&, const SourceLocation&, Diagnostics&)>
graph_plugin_loader(Registry& registry) {
  return [&registry](const std::filesystem::path& path, const SourceLocation& where,
                     Diagnostics& diagnostics) {
    try {
      load_plugin(path, registry);
    } catch (const std::exception& e) {
      diagnostics.error(where, e.what());
    }
  };
}

}  // namespace gradflow
