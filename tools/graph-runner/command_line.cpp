// graph-runner's command-line checks and messages (command_line.hpp).
#include "command_line.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <vector>

#include "gradflow/closest_name.hpp"

namespace gradflow::runner {

CLI::Validator whole_number(int64_t min) {
  return CLI::Validator(
      [min](std::string& text) -> std::string {
        int64_t value = 0;
        const char* end = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(text.data(), end, value);
        if (ec == std::errc{} && ptr == end && value >= min) return "";
        return fmt::format("expected a whole number of {} or more, got {}", min, text);
      },
      min > 0 ? "POSITIVE" : "NONNEGATIVE");
}

CLI::Validator non_negative_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double value = 0;
        const char* end = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(text.data(), end, value);
        if (ec == std::errc{} && ptr == end && value >= 0) return "";
        return fmt::format("expected a number of 0 or more, got {}", text);
      },
      "NONNEGATIVE");
}

CLI::Validator existing_file(const std::string& what) {
  return CLI::Validator(
      [what](std::string& path) -> std::string {
        std::error_code error;
        const auto status = std::filesystem::status(path, error);
        if (!std::filesystem::exists(status))
          throw MissingFile(fmt::format("{}: cannot open the {}: No such file or directory", path, what));
        if (std::filesystem::is_directory(status))
          throw MissingFile(fmt::format("{}: cannot open the {}: it is a folder", path, what));
        return "";
      },
      "FILE");
}

namespace {

std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* command : app.get_subcommands([](const CLI::App*) { return true; }))
    names.push_back(command->get_name());
  return names;
}

}  // namespace

std::string explain(const CLI::ParseError& error, const CLI::App& app, int argc, char** argv) {
  if (!app.get_subcommands().empty()) return error.what();
  const std::vector<std::string> names = command_names(app);
  const std::string list = fmt::format("{}", fmt::join(names, ", "));
  const bool command_given = argc >= 2 && argv[1][0] != '-' && argv[1][0] != '\0';
  if (!command_given || std::find(names.begin(), names.end(), argv[1]) != names.end())
    return dynamic_cast<const CLI::RequiredError*>(&error) ? fmt::format("{} (one of: {})", error.what(), list)
                                                            : error.what();
  const std::string close = closest_name(argv[1], names);
  return fmt::format("unknown command '{}' ({}commands: {})", argv[1],
                     close.empty() ? "" : fmt::format("did you mean '{}'? ", close), list);
}

}  // namespace gradflow::runner
