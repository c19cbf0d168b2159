#include "gradflow/registry.hpp"

#include <algorithm>
#include <stdexcept>

namespace gradflow {

const char* to_string(OpKind kind) {
  switch (kind) {
    case OpKind::Layer: return "layer";
    case OpKind::Loss: return "loss";
    case OpKind::Optimizer: return "optimizer";
  }
  return "?";
}

const OpEntry* Registry::find(std::string_view name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<const OpEntry*> Registry::entries() const {
  std::vector<const OpEntry*> list;
  for (const auto& [name, entry] : entries_) list.push_back(&entry);
  return list;
}

std::vector<std::string> classifying_losses(const Registry& registry) {
  std::vector<std::string> names;
  for (const OpEntry* entry : registry.entries()) {
    if (entry->schema.kind == OpKind::Loss && entry->schema.class_rule != ClassRule::None)
      names.push_back(entry->schema.name);
  }
  return names;
}

std::vector<std::string> Registry::names() const {
  std::vector<std::string> list;
  for (const auto& [name, entry] : entries_) list.push_back(name);
  return list;
}

namespace {
// Collects a library's registrations so they can be committed all at once.
class StagingRegistrar final : public Registrar {
 public:
  explicit StagingRegistrar(std::string origin) : origin_(std::move(origin)) {}

  void add_operator(OpSchema schema, OperatorFactory factory) override {
    if (schema.kind == OpKind::Optimizer)
      throw std::invalid_argument("operator '" + schema.name +
                                  "' is declared an optimizer but registered with add_operator");
    stage(OpEntry{std::move(schema), std::move(factory), nullptr, origin_});
  }
  void add_optimizer(OpSchema schema, OptimizerFactory factory) override {
    schema.kind = OpKind::Optimizer;
    stage(OpEntry{std::move(schema), nullptr, std::move(factory), origin_});
  }
  std::vector<OpEntry>& staged() { return staged_; }

 private:
  void stage(OpEntry entry) {
    if (entry.schema.name.empty()) throw std::invalid_argument("an operator has an empty name");
    staged_.push_back(std::move(entry));
  }
  std::string origin_;
  std::vector<OpEntry> staged_;
};
}  // namespace

void Registry::register_all(const std::string& origin,
                            const std::function<void(Registrar&)>& fill) {
  StagingRegistrar staging(origin);
  fill(staging);
  std::map<std::string, const OpEntry*, std::less<>> batch;
  for (const OpEntry& entry : staging.staged()) {
    const std::string& name = entry.schema.name;
    if (const OpEntry* existing = find(name))
      throw std::invalid_argument("operator '" + name + "' from " + origin +
                                  " is already registered by " + existing->origin);
    if (!batch.emplace(name, &entry).second)
      throw std::invalid_argument("operator '" + name + "' is registered twice by " + origin);
  }
  for (OpEntry& entry : staging.staged()) {
    std::string name = entry.schema.name;
    entries_.emplace(std::move(name), std::move(entry));
  }
}

Registry& default_registry() {
  // Never destroyed: operators from plugins may outlive static destruction order.
  static Registry* registry = [] {
    auto* r = new Registry;
    r->register_all("built-in", register_builtin_operators);
    return r;
  }();
  return *registry;
}

}  // namespace gradflow
