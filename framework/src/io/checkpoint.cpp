#include "gradflow/checkpoint.hpp"

#include <fmt/format.h>

#include <charconv>
#include <string_view>
#include <set>

#include "gradflow/safetensors.hpp"

namespace gradflow {

namespace {

constexpr const char* kFormatVersion = "1";
// Tensors of the training loop's state (the best weights of early stopping), not parameters.
constexpr std::string_view kLoopTensorPrefix = "gradflow.";

std::string optimizer_prefix(const OptimizerNode& opt) { return opt.name + "."; }

// Where the graph file defines the node that the tensor "<node>.<name>" belongs to.
SourceLocation node_place(const Model& model, const std::string& tensor) {
  const std::string node = tensor.substr(0, tensor.find('.'));
  for (const ComputeNode& n : model.nodes())
    if (n.name == node) return n.where;
  return {};
}

class SavingVisitor final : public StateVisitor {
 public:
  SavingVisitor(TensorFile& file, std::string prefix) : file_(file), prefix_(std::move(prefix)) {}
  void tensor(const std::string& name, Tensor& value) override { file_.tensors[prefix_ + name] = value; }
  void counter(const std::string& name, int64_t& value) override {
    file_.metadata["gradflow.counter." + prefix_ + name] = std::to_string(value);
  }

 private:
  TensorFile& file_;
  std::string prefix_;
};

// Checks every state entry against the file first (check pass), then copies (apply pass), so
// a bad file leaves the optimizer untouched.
class LoadingVisitor final : public StateVisitor {
 public:
  LoadingVisitor(const TensorFile& file, std::string prefix, const std::string& path, bool apply)
      : file_(file), prefix_(std::move(prefix)), path_(path), apply_(apply) {}
  void tensor(const std::string& name, Tensor& value) override {
    const std::string key = prefix_ + name;
    auto it = file_.tensors.find(key);
    if (it == file_.tensors.end()) throw CheckpointError(path_ + ": missing optimizer state '" + key + "'");
    if (it->second.shape() != value.shape())
      throw CheckpointError(fmt::format("{}: optimizer state '{}' has shape {}, the graph expects {}", path_, key,
                                        to_string(it->second.shape()), to_string(value.shape())));
    if (apply_) value = it->second;
    used.insert(key);
  }
  void counter(const std::string& name, int64_t& value) override {
    const std::string key = "gradflow.counter." + prefix_ + name;
    auto it = file_.metadata.find(key);
    int64_t parsed = 0;
    if (it == file_.metadata.end() ||
        std::from_chars(it->second.data(), it->second.data() + it->second.size(), parsed).ec != std::errc{})
      throw CheckpointError(path_ + ": missing or malformed optimizer counter '" + key + "'");
    if (apply_) value = parsed;
  }
  std::set<std::string> used;

 private:
  const TensorFile& file_;
  std::string prefix_;
  const std::string& path_;
  bool apply_;
};

int64_t metadata_int(const TensorFile& file, const std::string& key, const std::string& path) {
  auto it = file.metadata.find(key);
  int64_t value = 0;
  if (it == file.metadata.end() ||
      std::from_chars(it->second.data(), it->second.data() + it->second.size(), value).ec != std::errc{})
    throw CheckpointError(path + ": metadata '" + key + "' is missing or not an integer");
  return value;
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, Model& model, const TrainingState& state) {
  TensorFile file;
  for (const ParamRef& p : model.parameters()) file.tensors[p.name] = *p.value;
  for (const Model::BufferRef& b : model.buffers()) {
    file.tensors[b.name] = b.buffer->value;
    if (b.buffer->integer) file.integer_tensors.insert(b.name);
  }
  for (const OptimizerNode& opt : model.optimizers()) {
    SavingVisitor visitor(file, optimizer_prefix(opt));
    opt.impl->visit_state(visitor);
  }
  // The loop's state first: the fixed keys below always win.
  for (const auto& [key, value] : state.metadata) file.metadata[key] = value;
  for (const auto& [name, tensor] : state.tensors) file.tensors[name] = tensor;
  file.metadata["gradflow.format"] = kFormatVersion;
  file.metadata["gradflow.graph"] = model.spec().name;
  file.metadata["gradflow.epoch"] = std::to_string(state.epoch);
  file.metadata["gradflow.step"] = std::to_string(state.step);
  file.metadata["gradflow.seed"] = std::to_string(model.spec().seed);
  // Shuffling draws from a stream derived from (seed, epoch), so seed and epoch are the RNG state.
  file.metadata["gradflow.rng"] = fmt::format("mt19937_64 streams derived from seed {}; next epoch {}",
                                              model.spec().seed, state.epoch);
  write_safetensors(path, file);
}

TrainingState load_checkpoint(const std::filesystem::path& path, Model& model, LoadMode mode) {
  const std::string where = path.string();
  const TensorFile file = read_safetensors(path);
  std::set<std::string> used;
  for (const ParamRef& p : model.parameters()) {
    auto it = file.tensors.find(p.name);
    if (it == file.tensors.end())
      throw CheckpointError(where + ": missing parameter '" + p.name + "'", node_place(model, p.name));
    if (it->second.shape() != p.value->shape())
      throw CheckpointError(fmt::format("{}: parameter '{}' has shape {}, the graph expects {}", where, p.name,
                                        to_string(it->second.shape()), to_string(p.value->shape())),
                            node_place(model, p.name));
    used.insert(p.name);
  }
  for (const Model::BufferRef& b : model.buffers()) {
    auto it = file.tensors.find(b.name);
    if (it == file.tensors.end())
      throw CheckpointError(where + ": missing buffer '" + b.name + "'", node_place(model, b.name));
    if (it->second.shape() != b.buffer->value.shape())
      throw CheckpointError(fmt::format("{}: buffer '{}' has shape {}, the graph expects {}", where, b.name,
                                        to_string(it->second.shape()), to_string(b.buffer->value.shape())),
                            node_place(model, b.name));
    used.insert(b.name);
  }
  TrainingState state;
  if (mode == LoadMode::Resume) {
    const auto seed = metadata_int(file, "gradflow.seed", where);
    if (static_cast<uint64_t>(seed) != model.spec().seed)
      throw CheckpointError(fmt::format("{}: the checkpoint was trained with seed {}, the graph says {}; resuming "
                                        "would not continue the same run", where, seed, model.spec().seed));
    state.epoch = metadata_int(file, "gradflow.epoch", where);
    state.step = metadata_int(file, "gradflow.step", where);
    // The loop's state (EpochSchedule reads what it needs): all metadata, and the tensors
    // under the reserved prefix.
    state.metadata = file.metadata;
    for (const auto& [name, tensor] : file.tensors)
      if (name.starts_with(kLoopTensorPrefix)) {
        state.tensors[name] = tensor;
        used.insert(name);
      }
    for (bool apply : {false, true})
      for (const OptimizerNode& opt : model.optimizers()) {
        LoadingVisitor visitor(file, optimizer_prefix(opt), where, apply);
        opt.impl->visit_state(visitor);
        used.insert(visitor.used.begin(), visitor.used.end());
      }
  }
  if (mode == LoadMode::Resume)
    for (const auto& [name, tensor] : file.tensors)
      if (!used.count(name))
        throw CheckpointError(where + ": tensor '" + name + "' belongs to no parameter or optimizer of this graph");
  for (const ParamRef& p : model.parameters()) *p.value = file.tensors.at(p.name);
  for (const Model::BufferRef& b : model.buffers()) b.buffer->value = file.tensors.at(b.name);
  return state;
}

namespace {

// Every parameter and buffer, by the name a checkpoint stores it under.
std::vector<std::pair<std::string, Tensor*>> weights_of(Model& model) {
  std::vector<std::pair<std::string, Tensor*>> weights;
  for (const ParamRef& p : model.parameters()) weights.emplace_back(p.name, p.value);
  for (const Model::BufferRef& b : model.buffers()) weights.emplace_back(b.name, &b.buffer->value);
  return weights;
}

bool is_state(const std::string& name, const Model& model) {
  if (name.starts_with(kLoopTensorPrefix)) return true;
  for (const OptimizerNode& opt : model.optimizers())
    if (name.starts_with(optimizer_prefix(opt))) return true;
  return false;
}

}  // namespace

PartialLoad load_matching_weights(const std::filesystem::path& path, Model& model) {
  const TensorFile file = read_safetensors(path);
  PartialLoad load;
  std::set<std::string> used;
  for (const auto& [name, value] : weights_of(model)) {
    const std::string what = fmt::format("{} {}", name, to_string(value->shape()));
    const auto it = file.tensors.find(name);
    if (it == file.tensors.end()) {
      load.kept.push_back(what + ": not in the checkpoint");
    } else if (it->second.shape() != value->shape()) {
      load.kept.push_back(fmt::format("{}: the checkpoint's is {}", what, to_string(it->second.shape())));
    } else {
      *value = it->second;
      load.loaded.push_back(name);
    }
    used.insert(name);
  }
  for (const auto& [name, tensor] : file.tensors) {
    if (used.count(name)) continue;
    (is_state(name, model) ? load.unused_state : load.unused)
        .push_back(fmt::format("{} {}", name, to_string(tensor.shape())));
  }
  return load;
}

}  // namespace gradflow
