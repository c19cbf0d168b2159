// Errors about a user's files, each pinned to FILE:LINE:COLUMN, collected so that one run
// reports every problem it can find instead of stopping at the first.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace gradflow {

struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
};

struct Diagnostic {
  SourceLocation where;
  std::string message;
  std::string format() const;  // "FILE:LINE:COLUMN: error: MESSAGE"
};

// Thrown when a graph, its data or a checkpoint is bad; holds every diagnostic found.
class GraphError : public std::runtime_error {
 public:
  explicit GraphError(std::vector<Diagnostic> diagnostics);
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

// An error found while running (a checkpoint that does not fit a node, an operator that failed) about
// something the graph file defines: `where()` is that node's line in the file, or unknown (line 0).
// graph-runner prints it as a Diagnostic: "FILE:LINE:COLUMN: error: WHAT".
class LocatedError : public std::runtime_error {
 public:
  explicit LocatedError(const std::string& message, SourceLocation place = {})
      : std::runtime_error(message), where_(std::move(place)) {}
  const SourceLocation& where() const { return where_; }

 private:
  SourceLocation where_;
};

// A GraphError with one diagnostic about a whole file (no line to point at).
GraphError file_error(const std::string& file, const std::string& message);

class Diagnostics {
 public:
  void error(SourceLocation where, std::string message);
  bool empty() const { return list_.empty(); }
  size_t size() const { return list_.size(); }
  const std::vector<Diagnostic>& list() const { return list_; }
  void throw_if_any() const;  // throws GraphError when any error was recorded

 private:
  std::vector<Diagnostic> list_;
};

}  // namespace gradflow
