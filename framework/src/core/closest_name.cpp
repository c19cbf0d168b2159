#include "gradflow/closest_name.hpp"

#include <algorithm>
#include <cctype>

namespace gradflow {

namespace {

// Lower case, without '_': "CrossEntropy", "cross_entropy" and "crossentropy" are one key.
std::string key_of(std::string_view name) {
  std::string key;
  for (char c : name)
    if (c != '_') key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The keys `name` may stand for, most literal first: itself, then without a class-name suffix
// ("CrossEntropyLoss" for cross_entropy, "BatchNorm2d" for batch_norm).
std::vector<std::string> spellings_of(std::string_view name) {
  std::vector<std::string> keys = {key_of(name)};
  for (std::string_view suffix : {"loss", "1d", "2d", "3d"})
    if (ends_with(keys.front(), suffix)) keys.push_back(keys.front().substr(0, keys.front().size() - suffix.size()));
  return keys;
}

// Edit distance counting a swap of neighbours as one edit ("reul" is one edit from "relu").
size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

}  // namespace

std::string closest_name(std::string_view name, const std::vector<std::string>& candidates) {
  // The same name but for case and underscores, or a class-name suffix, first ("ReLU": relu).
  for (const std::string& spelling : spellings_of(name))
    for (const std::string& candidate : candidates)
      if (key_of(candidate) == spelling) return candidate;
  std::string best;
  // Allow about one edit per three characters: more than that suggests noise for short names.
  size_t best_distance = std::max<size_t>(1, name.size() / 3) + 1;
  const std::string key = key_of(name);
  for (const std::string& candidate : candidates) {
    const size_t d = distance(key, key_of(candidate));
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

}  // namespace gradflow
