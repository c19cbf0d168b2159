// graph-runner's own command-line checks and messages, where CLI11's do not help a user: a count
// of 0 is "expected a whole number of 1 or more, got 0", not a range printed to 300 digits; a
// misspelt command gets the closest one; a file the command reads that is not there is bad input
// (exit 1, as the contract says), not a bad command line.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace gradflow::runner {

// A whole number of at least `min`: "--batch-size: expected a whole number of 1 or more, got 0".
CLI::Validator whole_number(int64_t min);
// A number of 0 or more: "--temperature: expected a number of 0 or more, got -1".
CLI::Validator non_negative_number();

// Thrown out of CLI::App::parse by existing_file(): graph-runner's main reports it with exit status 1.
class MissingFile : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// A file the command reads, `what` naming it: "nope.yaml: cannot open the graph file: No such file or
// directory".
CLI::Validator existing_file(const std::string& what);

// What to print for a command line CLI11 refused: its message, or a clearer one where it has
// none to give ("unknown command 'trian' (did you mean 'train'? ...)").
std::string explain(const CLI::ParseError& error, const CLI::App& app, int argc, char** argv);

}  // namespace gradflow::runner
