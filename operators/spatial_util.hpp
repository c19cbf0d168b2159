// Shared by the operators that come in a 1-D form over sequences [C, L] and a 2-D form over
// images [C, H, W] (conv, max and average pooling): a 1-D op is its 2-D form with height 1,
// so both run the same kernels, and these helpers map the 1-D attributes and shapes onto them.
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "image_util.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

// How many spatial axes a sample has after its channels: 1 for [C, L], 2 for [C, H, W].
enum class Spatial { Sequence = 1, Image = 2 };

inline int rank_of(Spatial spatial) { return static_cast<int>(spatial); }

// The op's name from its 2-D stem: ("conv", Sequence) is "conv1d".
inline std::string spatial_name(const std::string& stem, Spatial spatial) {
  return stem + (spatial == Spatial::Sequence ? "1d" : "2d");
}

// A window attribute: an integer pair of an image, a single integer of a sequence, each value
// at least `min`.
inline AttrSpec window_attr(Spatial spatial, std::string name, std::optional<AttrValue> default_value, double min,
                            const std::string& help) {
  if (spatial == Spatial::Image) return pair_attr(std::move(name), std::move(default_value), min, help);
  return bounded(attr(std::move(name), AttrType::Int, std::move(default_value), help), min, false);
}

// A window attribute as the 2-D kernels take it: an image's [h, w], or a sequence's single
// integer v as [unit, v] (a height-1 window: kernel, stride and dilation 1, padding 0).
inline std::array<int64_t, 2> window_value(const Attributes& attrs, const std::string& name, Spatial spatial,
                                           int64_t unit) {
  const std::array<int64_t, 2> pair = attrs.get_pair(name);  // a single integer reads as both
  return spatial == Spatial::Image ? pair : std::array<int64_t, 2>{unit, pair[1]};
}

// The spatial sizes as messages write them: "[3, 3]" for an image, "[3]" for a sequence.
inline std::string window_text(const std::array<int64_t, 2>& p, Spatial spatial) {
  return spatial == Spatial::Image ? pair_text(p) : "[" + std::to_string(p[1]) + "]";
}

// "[H, W]" or "[L]": the names of the spatial axes in messages.
inline const char* axes_name(Spatial spatial) { return spatial == Spatial::Image ? "[H, W]" : "[L]"; }

// The single input's sample shape, which must be a sequence [C, L] or an image [C, H, W] with
// no empty axis, read as the 2-D kernels see it: [C, H, W], with H = 1 for a sequence.
inline std::array<int64_t, 3> spatial_input(std::span<const Shape> shapes, const std::string& op, Spatial spatial) {
  if (spatial == Spatial::Image) {
    const Shape& in = image_input(shapes, op.c_str());
    return {in[0], in[1], in[2]};
  }
  const Shape& in = single_input(shapes, op.c_str());
  if (in.size() != 2 || in[0] < 1 || in[1] < 1)
    throw ShapeError(op + " expects a sample sequence [C, L], got " + to_string(in) +
                     (in.size() == 1 ? "; a flat input needs a reshape node to [C, L] first" : ""));
  return {in[0], 1, in[1]};
}

// The sample shape of an output of `channels` and spatial sizes [h, w] (h is 1 for a sequence).
inline Shape spatial_shape(int64_t channels, int64_t height, int64_t width, Spatial spatial) {
  return spatial == Spatial::Image ? Shape{channels, height, width} : Shape{channels, width};
}

// ONNX's per-axis attribute lists (kernel_shape, strides, dilations) for the spatial axes.
inline std::vector<int64_t> onnx_axes(const std::array<int64_t, 2>& p, Spatial spatial) {
  return spatial == Spatial::Image ? std::vector<int64_t>{p[0], p[1]} : std::vector<int64_t>{p[1]};
}

// ONNX's pads: every axis' start, then every axis' end (symmetric padding).
inline std::vector<int64_t> onnx_pads(const std::array<int64_t, 2>& p, Spatial spatial) {
  std::vector<int64_t> axes = onnx_axes(p, spatial);
  std::vector<int64_t> pads = axes;
  pads.insert(pads.end(), axes.begin(), axes.end());
  return pads;
}

}  // namespace gradflow::ops
