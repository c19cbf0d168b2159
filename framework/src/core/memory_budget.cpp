// The process's memory budget for tensor storage: what is held now, the limit (physical memory,
// lowered to the cgroup's limit or set by GRADFLOW_MEMORY_LIMIT / set_memory_limit), and the
// check every allocation passes before it happens (tensor.hpp documents the rules).
#include "core/memory_budget.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

namespace gradflow {

namespace {

// Bytes of tensor storage allocated now, and the limit (0 until the first allocation or
// set_memory_limit decides it). Relaxed: the budget is a guard, not a synchronisation point.
std::atomic<int64_t> g_in_use{0};
std::atomic<int64_t> g_limit{0};

// Where the limit came from (for the error message) and the error of a malformed
// GRADFLOW_MEMORY_LIMIT; both change rarely, under the mutex. Never destroyed: a static
// Tensor elsewhere may be freed after this file's statics.
struct LimitState {
  std::mutex mutex;
  std::string origin;
  std::string env_error;
};
LimitState& limit_state() {
  static auto* state = new LimitState;
  return *state;
}

std::string format_bytes(int64_t bytes) {
  const auto b = static_cast<double>(bytes);
  if (bytes >= int64_t{1} << 30) return fmt::format("{:.1f} GiB", b / (1 << 30));
  if (bytes >= int64_t{1} << 20) return fmt::format("{:.1f} MiB", b / (1 << 20));
  if (bytes >= int64_t{1} << 10) return fmt::format("{:.1f} KiB", b / (1 << 10));
  return fmt::format("{} bytes", bytes);
}

int64_t physical_memory() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  int64_t bytes = 0;
  if (pages <= 0 || page <= 0 || __builtin_mul_overflow(int64_t{pages}, int64_t{page}, &bytes))
    return std::numeric_limits<int64_t>::max();
  return bytes;
}

struct CgroupLimit {
  int64_t bytes;
  std::string file;
};

// A cgroup limit file holding a number of bytes; "max", a missing file or anything else is none.
std::optional<int64_t> read_limit_file(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text)) return std::nullopt;
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value <= 0) return std::nullopt;
  return value;
}

// Lowers `best` to the limit in `file` of cgroup `path` (under `mount`) or of any ancestor:
// a limit set on a parent slice binds the process as well.
void tighten_from(const std::string& mount, std::string path, const char* file, std::optional<CgroupLimit>& best) {
  for (;;) {
    const std::string at = mount + (path == "/" ? "" : path) + "/" + file;
    if (auto bytes = read_limit_file(at); bytes && (!best || *bytes < best->bytes)) best = CgroupLimit{*bytes, at};
    if (path == "/") return;
    const size_t slash = path.rfind('/');
    path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
  }
}

// The tightest memory limit of this process's cgroups: cgroup v2 memory.max (in a container
// with its own cgroup namespace, /sys/fs/cgroup/memory.max), or v1 memory.limit_in_bytes.
std::optional<CgroupLimit> cgroup_limit() {
  std::optional<CgroupLimit> best;
  std::ifstream in("/proc/self/cgroup");
  for (std::string line; std::getline(in, line);) {  // "id:controllers:/path"
    const size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos || b + 1 >= line.size() || line[b + 1] != '/') continue;
    const std::string controllers = "," + line.substr(a + 1, b - a - 1) + ",";
    if (line.compare(0, a, "0") == 0 && controllers == ",,")
      tighten_from("/sys/fs/cgroup", line.substr(b + 1), "memory.max", best);
    else if (controllers.find(",memory,") != std::string::npos)
      tighten_from("/sys/fs/cgroup/memory", line.substr(b + 1), "memory.limit_in_bytes", best);
  }
  if (!best) tighten_from("/sys/fs/cgroup", "/", "memory.max", best);  // /proc not mounted
  return best;
}

struct Limit {
  int64_t bytes;
  std::string origin;
};

// GRADFLOW_MEMORY_LIMIT when set (an empty value counts as unset), else the machine's memory
// lowered to the cgroup's limit.
Limit default_limit() {
  if (const char* env = std::getenv("GRADFLOW_MEMORY_LIMIT"); env && *env)
    return {parse_memory_limit(env), std::string("GRADFLOW_MEMORY_LIMIT=") + env};
  Limit limit{physical_memory(), "the machine's memory; set GRADFLOW_MEMORY_LIMIT to change it"};
  if (auto cgroup = cgroup_limit(); cgroup && cgroup->bytes < limit.bytes)
    limit = {cgroup->bytes, "the cgroup limit in " + cgroup->file + "; set GRADFLOW_MEMORY_LIMIT to change it"};
  return limit;
}

// Decides the limit on first use: the environment is read once; a malformed value is kept as
// an error that every allocation reports until set_memory_limit or reset_memory_limit.
int64_t initial_limit() {
  LimitState& state = limit_state();
  std::lock_guard lock(state.mutex);
  if (const int64_t limit = g_limit.load(std::memory_order_relaxed); limit > 0) return limit;  // decided meanwhile
  if (!state.env_error.empty()) throw std::invalid_argument(state.env_error);
  try {
    Limit limit = default_limit();
    state.origin = std::move(limit.origin);
    g_limit.store(limit.bytes, std::memory_order_relaxed);
    return limit.bytes;
  } catch (const std::invalid_argument& e) {
    state.env_error = e.what();
    throw;
  }
}

std::string over_limit_message(const Shape& shape, int64_t bytes, int64_t held, int64_t limit) {
  LimitState& state = limit_state();
  std::lock_guard lock(state.mutex);
  return fmt::format("a tensor of shape {} needs {}; with {} already held that is over the memory limit of {} ({})",
                     to_string(shape), format_bytes(bytes), format_bytes(held), format_bytes(limit), state.origin);
}

}  // namespace

int64_t parse_memory_limit(std::string_view text) {
  const auto malformed = [&] {
    return std::invalid_argument("GRADFLOW_MEMORY_LIMIT='" + std::string(text) +
                                 "' is not a memory size: expected a positive number of bytes, optionally with a "
                                 "K, M or G suffix (e.g. 512M, 8G)");
  };
  const char* const end = text.data() + text.size();
  int64_t value = 0;
  auto [p, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || value <= 0) throw malformed();
  int shift = 0;
  if (p != end) {
    switch (*p++) {
      case 'k': case 'K': shift = 10; break;
      case 'm': case 'M': shift = 20; break;
      case 'g': case 'G': shift = 30; break;
      default: throw malformed();
    }
  }
  if (p != end || value > (std::numeric_limits<int64_t>::max() >> shift)) throw malformed();
  return value << shift;
}

void set_memory_limit(int64_t bytes) {
  if (bytes < 1) throw std::invalid_argument("set_memory_limit: the limit must be at least 1 byte, got " + std::to_string(bytes));
  LimitState& state = limit_state();
  std::lock_guard lock(state.mutex);
  state.origin = "set by set_memory_limit";
  state.env_error.clear();
  g_limit.store(bytes, std::memory_order_relaxed);
}

void reset_memory_limit() {
  {
    LimitState& state = limit_state();
    std::lock_guard lock(state.mutex);
    state.env_error.clear();
    g_limit.store(0, std::memory_order_relaxed);
  }
  initial_limit();  // re-reads GRADFLOW_MEMORY_LIMIT; throws here when it is malformed
}

int64_t memory_limit() {
  const int64_t limit = g_limit.load(std::memory_order_relaxed);
  return limit > 0 ? limit : initial_limit();
}

int64_t memory_in_use() { return g_in_use.load(std::memory_order_relaxed); }

namespace detail {

// Counts `bytes` against the budget, or throws before anything is allocated. Adding first
// and taking it back on refusal keeps concurrent allocations from overshooting together.
void charge_budget(int64_t bytes, const Shape& shape) {
  const int64_t limit = memory_limit();
  const int64_t held = g_in_use.fetch_add(bytes, std::memory_order_relaxed);
  if (held <= limit - bytes) return;
  g_in_use.fetch_sub(bytes, std::memory_order_relaxed);
  throw std::length_error(over_limit_message(shape, bytes, held, limit));
}

void refund_budget(int64_t bytes) noexcept { g_in_use.fetch_sub(bytes, std::memory_order_relaxed); }

}  // namespace detail

}  // namespace gradflow
