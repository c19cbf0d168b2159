// The byte-level `text:` data source of a graph file's `data:` section (docs/graph-format.md):
// {text: FILE-or-list, length: T, offset: 0, stride: T, exclude: [patterns], part: [a, b]}
// gives windows of T bytes of a corpus, as ids 0-255.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gradflow/diagnostics.hpp"
#include "gradflow/in_memory_dataset.hpp"
#include "gradflow/tensor.hpp"

namespace gradflow {

bool is_text_source(const YAML::Node& mapping);

// Reads text sources. A corpus (the concatenation of one list of files) is read once however
// many inputs and parts window it: every column shares it.
class TextSources {
 public:
  TextSources(std::string file, std::filesystem::path base_dir, Diagnostics& diagnostics)
      : file_(std::move(file)), base_dir_(std::move(base_dir)), diagnostics_(diagnostics) {}

  // The windows of `mapping` for data.<split>.<input> of sample shape `sample_shape`, as a
  // column [windows, T] of the byte values as floats; nothing, with the reasons in the
  // diagnostics, when the mapping or its files are wrong.
  std::optional<Column> read(const YAML::Node& mapping, const std::string& split, const std::string& input,
                             const Shape& sample_shape);

 private:
  std::shared_ptr<const std::string> corpus(const std::vector<std::string>& files, const YAML::Node& where,
                                            const std::string& key);

  std::string file_;
  std::filesystem::path base_dir_;
  Diagnostics& diagnostics_;
  std::map<std::vector<std::string>, std::shared_ptr<const std::string>> corpora_;
};

// Bytes [begin, end) of a corpus of `total` bytes that `part: [a, b]` keeps:
// begin = floor(a * total), end = floor(b * total), in double (the PyTorch twin's formula).
struct TextPart {
  int64_t begin = 0, end = 0;
};
TextPart text_part(double a, double b, int64_t total);

// Windows of `length` bytes at `offset` every `stride` bytes that fit in `bytes` bytes.
int64_t text_windows(int64_t bytes, int64_t length, int64_t offset, int64_t stride);

}  // namespace gradflow
