// The `text:` data source: files and glob patterns concatenated into one corpus of bytes, a
// fraction of it (`part`), and windows of `length` bytes at `offset` every `stride` bytes.
// A column of windows points into the corpus: overlapping windows cost no memory.
#include "spec/text_source.hpp"

#include <fmt/format.h>
#include <fnmatch.h>
#include <glob.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include "spec/yaml_util.hpp"

namespace gradflow {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kTextKeys = {"text", "length", "offset", "stride", "exclude", "part"};

bool has_wildcard(const std::string& pattern) { return pattern.find_first_of("*?[") != std::string::npos; }

// The regular files (symbolic links followed) that `pattern` matches, sorted by their bytes
// (Python's sorted(glob.glob(...)) for the same names).
std::vector<std::string> glob_files(const std::string& pattern) {
  glob_t found{};
  std::vector<std::string> files;
  if (::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &found) == 0) {
    for (size_t i = 0; i < found.gl_pathc; ++i) {
      std::error_code ec;
      if (fs::is_regular_file(found.gl_pathv[i], ec)) files.emplace_back(found.gl_pathv[i]);
    }
  }
  ::globfree(&found);
  std::sort(files.begin(), files.end());
  return files;
}

bool excluded(const std::string& path, const std::vector<std::string>& exclude) {
  const std::string name = fs::path(path).filename().string();
  for (const std::string& pattern : exclude)
    if (::fnmatch(pattern.c_str(), name.c_str(), 0) == 0 || ::fnmatch(pattern.c_str(), path.c_str(), 0) == 0)
      return true;
  return false;
}

// One `text:` mapping: its keys checked and read, every problem reported.
class TextReader {
 public:
  TextReader(const YAML::Node& mapping, std::string key, const std::string& file, Diagnostics& diagnostics)
      : mapping_(mapping), key_(std::move(key)), file_(file), diagnostics_(diagnostics) {}

  bool error(const YAML::Node& node, const std::string& message) {
    diagnostics_.error(locate(file_, node), fmt::format("{}: {}", key_, message));
    return false;
  }

  bool check_keys() {
    return check_known_keys(mapping_, kTextKeys, UnknownKeyMessage{key_ + ": ", "key", " in a text source"}, file_,
                            diagnostics_);
  }

  // `name` as an integer of at least `minimum`; `fallback` when absent (nothing: required).
  std::optional<int64_t> integer(const char* name, int64_t minimum, std::optional<int64_t> fallback) {
    const YAML::Node node = mapping_[name];
    if (!node) {
      if (!fallback)
        error(mapping_, fmt::format("'{}' is required: the window length T, as in the input's shape [T]", name));
      return fallback;
    }
    auto value = scalar_as<int64_t>(node);
    if (!value || *value < minimum) {
      error(node, fmt::format("'{}' must be an integer >= {}, got {}", name, minimum, describe(node)));
      return std::nullopt;
    }
    return value;
  }

  // `part: [a, b]` with 0 <= a < b <= 1 (default [0, 1]).
  std::optional<std::pair<double, double>> part() {
    const YAML::Node node = mapping_["part"];
    if (!node) return std::pair{0.0, 1.0};
    std::optional<double> a, b;
    if (node.IsSequence() && node.size() == 2) a = scalar_as<double>(node[0]), b = scalar_as<double>(node[1]);
    if (!a || !b || !(*a >= 0.0 && *a < *b && *b <= 1.0)) {
      error(node, fmt::format("'part' must be two fractions [a, b] with 0 <= a < b <= 1, got {}", written(node)));
      return std::nullopt;
    }
    return std::pair{*a, *b};
  }

  // The patterns of `key` (one string or a non-empty list of strings), with their nodes.
  std::optional<std::vector<YAML::Node>> strings(const char* key, const char* expected) {
    const YAML::Node node = mapping_[key];
    std::vector<YAML::Node> items;
    if (node.IsScalar()) items.push_back(node);
    if (node.IsSequence())
      for (const YAML::Node& item : node) items.push_back(item);
    const bool ok =
        !items.empty() && std::all_of(items.begin(), items.end(), [](const YAML::Node& n) { return n.IsScalar(); });
    if (!ok && !(node.IsSequence() && node.size() == 0 && std::string(key) == "exclude")) {
      error(node, fmt::format("'{}' must be {}, got {}", key, expected, describe(node)));
      return std::nullopt;
    }
    return items;
  }

  // The files of `text:` in order, less the excluded ones; every pattern must keep one.
  std::optional<std::vector<std::string>> files(const fs::path& base_dir) {
    auto patterns = strings("text", "a file, a glob pattern or a list of them");
    auto exclude_nodes = mapping_["exclude"] ? strings("exclude", "a list of file name patterns")
                                             : std::optional<std::vector<YAML::Node>>(std::vector<YAML::Node>{});
    if (!patterns || !exclude_nodes) return std::nullopt;
    std::vector<std::string> exclude;
    for (const YAML::Node& n : *exclude_nodes) exclude.push_back(n.Scalar());
    std::vector<std::string> files;
    bool ok = true;
    for (const YAML::Node& node : *patterns) {
      const std::string pattern = node.Scalar();
      const std::string resolved = (base_dir / pattern).string();
      // A plain path is taken as it is: reading it says why it cannot be read.
      std::vector<std::string> matched = has_wildcard(resolved) ? glob_files(resolved) : std::vector{resolved};
      const std::string looked = resolved == pattern ? "" : fmt::format(" (looked for '{}')", resolved);
      if (matched.empty()) {
        ok = error(node, fmt::format("no file matches '{}'{}", pattern, looked));
        continue;
      }
      const auto kept =
          std::remove_if(matched.begin(), matched.end(), [&](const std::string& f) { return excluded(f, exclude); });
      if (kept == matched.begin()) {
        ok = error(node, fmt::format("every file that '{}' matches is excluded by 'exclude'{}", pattern, looked));
        continue;
      }
      files.insert(files.end(), matched.begin(), kept);
    }
    if (!ok) return std::nullopt;
    return files;
  }

  // A node as the user wrote it, for messages: "[0.9, 2]".
  static std::string written(const YAML::Node& node) {
    if (!node.IsSequence()) return describe(node);
    std::vector<std::string> items;
    for (const YAML::Node& item : node) items.push_back(item.IsScalar() ? item.Scalar() : describe(item));
    return fmt::format("[{}]", fmt::join(items, ", "));
  }

  const YAML::Node& mapping() const { return mapping_; }

 private:
  const YAML::Node& mapping_;
  std::string key_;
  const std::string& file_;
  Diagnostics& diagnostics_;
};

ByteTable identity_table() {
  ByteTable table;
  for (size_t b = 0; b < table.size(); ++b) table[b] = static_cast<float>(b);
  return table;
}

}  // namespace

bool is_text_source(const YAML::Node& mapping) { return mapping.IsMap() && static_cast<bool>(mapping["text"]); }

TextPart text_part(double a, double b, int64_t total) {
  const auto n = static_cast<double>(total);
  return {static_cast<int64_t>(std::floor(a * n)), static_cast<int64_t>(std::floor(b * n))};
}

int64_t text_windows(int64_t bytes, int64_t length, int64_t offset, int64_t stride) {
  const int64_t room = bytes - offset - length;
  return room < 0 ? 0 : room / stride + 1;
}

std::shared_ptr<const std::string> TextSources::corpus(const std::vector<std::string>& files, const YAML::Node& where,
                                                       const std::string& key) {
  if (auto cached = corpora_.find(files); cached != corpora_.end()) return cached->second;
  auto text = std::make_shared<std::string>();
  for (const std::string& path : files) {
    std::error_code ec;
    std::ifstream in(path, std::ios::binary);
    const int why = errno;
    const bool folder = fs::is_directory(path, ec);
    if (folder || !in) {
      diagnostics_.error(locate(file_, where), fmt::format("{}: cannot read '{}': {}", key, path,
                                                           folder ? "it is a directory" : std::strerror(why)));
      return nullptr;
    }
    text->append(std::istreambuf_iterator<char>(in), {});
    if (in.bad()) {
      diagnostics_.error(locate(file_, where), fmt::format("{}: cannot read '{}': read error", key, path));
      return nullptr;
    }
  }
  return corpora_[files] = std::move(text);
}

std::optional<Column> TextSources::read(const YAML::Node& mapping, const std::string& split, const std::string& input,
                                        const Shape& sample_shape) {
  const std::string key = fmt::format("data.{}.{}", split, input);
  TextReader reader(mapping, key, file_, diagnostics_);
  bool ok = reader.check_keys();
  const std::optional<int64_t> length = reader.integer("length", 1, std::nullopt);
  if (length && sample_shape != Shape{*length})
    ok = reader.error(mapping["length"],
                      fmt::format("'length' is {} but input '{}' has shape {}; a text source gives samples of shape [length]",
                                  *length, input, to_string(sample_shape)));
  const std::optional<int64_t> offset = reader.integer("offset", 0, int64_t{0});
  const std::optional<int64_t> stride = reader.integer("stride", 1, length.value_or(1));
  const auto part = reader.part();
  const auto files = reader.files(base_dir_);
  if (!ok || !length || !offset || !stride || !part || !files) return std::nullopt;
  std::shared_ptr<const std::string> text = corpus(*files, mapping["text"], key);
  if (!text) return std::nullopt;
  const auto total = static_cast<int64_t>(text->size());
  const TextPart kept = text_part(part->first, part->second, total);
  const int64_t windows = text_windows(kept.end - kept.begin, *length, *offset, *stride);
  if (windows < 1) {
    const YAML::Node where = mapping["part"] ? mapping["part"] : mapping["text"];
    reader.error(where, fmt::format("the text's part {} holds {} bytes (bytes {} to {} of {}), too few for one window of "
                                    "length {} at offset {} (needs {})",
                                    mapping["part"] ? TextReader::written(mapping["part"]) : "[0, 1]",
                                    kept.end - kept.begin, kept.begin, kept.end, total, *length, *offset, *length + *offset));
    return std::nullopt;
  }
  static const ByteTable table = identity_table();
  return Column::from_windows(std::move(text), kept.begin + *offset, *stride, Shape{windows, *length}, table);
}

}  // namespace gradflow
