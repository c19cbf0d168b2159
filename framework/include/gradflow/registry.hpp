// The operator registry. Built-in operators and plugins register through the same Registrar
// interface: built-ins from register_builtin_operators(), plugins from their entry point.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "gradflow/operator.hpp"

namespace gradflow {

using OperatorFactory = std::function<std::unique_ptr<Operator>(const Attributes&)>;
using OptimizerFactory = std::function<std::unique_ptr<Optimizer>(const Attributes&)>;

struct OpEntry {
  OpSchema schema;
  OperatorFactory make_operator;    // set for layers and losses
  OptimizerFactory make_optimizer;  // set for optimizers
  std::string origin;               // "built-in" or the plugin library's path
};

// What an operator library sees: it can only add operators.
class Registrar {
 public:
  virtual ~Registrar() = default;
  virtual void add_operator(OpSchema schema, OperatorFactory factory) = 0;
  virtual void add_optimizer(OpSchema schema, OptimizerFactory factory) = 0;

  // Registers Op, which provides `static OpSchema schema()` and a constructor from Attributes.
  template <class Op>
  void add() {
    if constexpr (std::is_base_of_v<Optimizer, Op>) {
      add_optimizer(Op::schema(), [](const Attributes& a) { return std::make_unique<Op>(a); });
    } else {
      add_operator(Op::schema(), [](const Attributes& a) { return std::make_unique<Op>(a); });
    }
  }
};

class Registry {
 public:
  const OpEntry* find(std::string_view name) const;
  std::vector<const OpEntry*> entries() const;  // sorted by name
  std::vector<std::string> names() const;       // sorted

  // Registers everything `fill` adds, or nothing: a duplicate name (with an existing entry or
  // within the batch) or an exception from `fill` leaves the registry as it was and throws.
  void register_all(const std::string& origin, const std::function<void(Registrar&)>& fill);

 private:
  std::map<std::string, OpEntry, std::less<>> entries_;
};

// The registry with every built-in operator (operators/builtin.cpp).
void register_builtin_operators(Registrar& registrar);
Registry& default_registry();

// The loss ops whose OpSchema::class_rule classifies, sorted, for messages.
std::vector<std::string> classifying_losses(const Registry& registry);

}  // namespace gradflow
