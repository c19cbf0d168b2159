// The nodes one nn.LSTM / nn.GRU (batch_first) becomes in ONNX, as torch.onnx.export and
// gradflow's export write them: found and checked by import_recurrent_trace.cpp, converted to
// one lstm / gru node by import_recurrent.cpp. Internal to gradflow_onnx.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "onnx_import.hpp"

namespace gradflow::onnx_io {

// A node after the stack whose output import computes from the lstm / gru node: a Gather of one
// time step of the batch-first output (`out[:, t]`), or of one direction's final hidden state
// (`h[-1]`), or gradflow's own Reshape of the final states of every direction.
struct RecurrentRead {
  const onnx::NodeProto* node = nullptr;
  int64_t step = -1;       // the time step read, or -1 for a final state
  int64_t direction = -1;  // for a final state: 0 forward, 1 backward, -1 every direction concatenated
};

struct RecurrentStack {
  bool lstm = true;
  int64_t hidden = 0, directions = 1, steps = 0;
  std::vector<const onnx::NodeProto*> layers;      // one LSTM / GRU node per layer, first to last
  const onnx::NodeProto* to_time_major = nullptr;  // the Transpose before the first layer
  std::string sequence;                            // the batch-first output [B, T, D·H] when read whole
  std::vector<RecurrentRead> reads;
};

// ONNX value -> the node computing it.
using Producers = std::map<std::string, const onnx::NodeProto*>;
Producers producers_of(const onnx::GraphProto& graph);

// The stack whose first layer is `first`, with every node around it checked: anything but the
// forms torch and gradflow write is an error naming the node. Every node of the stack but
// `first` is consumed (convert() skips it); tracing again gives the same stack.
RecurrentStack trace_recurrent(Importer& im, const Producers& producers, const onnx::NodeProto& first);

}  // namespace gradflow::onnx_io
