#include "gradflow/diagnostics.hpp"

#include <fmt/format.h>

namespace gradflow {

std::string Diagnostic::format() const {
  if (where.line > 0) return fmt::format("{}:{}:{}: error: {}", where.file, where.line, where.column, message);
  if (!where.file.empty()) return fmt::format("{}: error: {}", where.file, message);
  return "error: " + message;
}

namespace {
std::string join_lines(const std::vector<Diagnostic>& diagnostics) {
  std::string text;
  for (const Diagnostic& d : diagnostics) {
    if (!text.empty()) text += '\n';
    text += d.format();
  }
  return text;
}
}  // namespace

GraphError::GraphError(std::vector<Diagnostic> diagnostics)
    : std::runtime_error(join_lines(diagnostics)), diagnostics_(std::move(diagnostics)) {}

GraphError file_error(const std::string& file, const std::string& message) {
  Diagnostics diagnostics;
  diagnostics.error(SourceLocation{file, 0, 0}, message);
  return GraphError(diagnostics.list());
}

void Diagnostics::error(SourceLocation where, std::string message) {
  list_.push_back({std::move(where), std::move(message)});
}

void Diagnostics::throw_if_any() const {
  if (!list_.empty()) throw GraphError(list_);
}

}  // namespace gradflow
