// Checkpoint files in the safetensors format (https://github.com/huggingface/safetensors),
// so PyTorch and other tools read gradflow's weights without gradflow. F32 tensors, and I64
// for counters (batch norm's num_batches_tracked), held in memory as whole floats.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

#include "gradflow/diagnostics.hpp"
#include "gradflow/tensor.hpp"

namespace gradflow {

// A malformed, corrupted or unwritable checkpoint. The message is "PATH: WHAT"; where a tensor does not fit a
// node of the graph, where() is that node's line in the graph file.
struct CheckpointError : LocatedError {
  using LocatedError::LocatedError;
};

struct TensorFile {
  std::map<std::string, Tensor> tensors;
  // Names of the tensors stored as I64: their values are whole numbers (exact below 2^24).
  std::set<std::string> integer_tensors;
  std::map<std::string, std::string> metadata;  // the header's "__metadata__"
};

// The metadata key under which write_safetensors stores the CRC32 (zlib) of the data
// buffer, as a decimal string. read_safetensors checks it when present and leaves it out of
// TensorFile::metadata; files written by other tools lack it and load unchecked.
inline constexpr const char* kChecksumKey = "gradflow.crc32";

// Writes atomically: a temp file "<path>.tmp-<pid>" in the same directory is written,
// flushed and fsynced, renamed over `path`, then the directory is fsynced. On failure the
// temp file is removed, any previous file at `path` is intact, and CheckpointError says
// what failed. Tensors are stored in name order, contiguously.
void write_safetensors(const std::filesystem::path& path, const TensorFile& file);

// Reads and fully validates a safetensors file; hostile input yields CheckpointError,
// never a crash.
TensorFile read_safetensors(const std::filesystem::path& path);

}  // namespace gradflow
