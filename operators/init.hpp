// Weight initialisation shared by the layers with weights (linear, conv2d): the `init`
// attribute and torch.nn.init's schemes, drawn from the node's own stream in element order.
#pragma once

#include <cmath>
#include <string>

#include "gradflow/rng.hpp"
#include "gradflow/tensor.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

inline AttrSpec init_attr() {
  return with_choices(attr("init", AttrType::String, AttrValue{std::string("torch_default")},
                           "weight initialisation; the bias starts at zero except for torch_default"),
                      {"torch_default", "xavier_uniform", "xavier_normal", "he_uniform", "he_normal", "normal",
                       "uniform", "zeros"});
}

inline void fill_uniform(Tensor& t, Rng& rng, double low, double high) {
  for (float& v : t.values()) v = static_cast<float>(rng.uniform(low, high));
}

inline void fill_normal(Tensor& t, Rng& rng, double stddev) {
  for (float& v : t.values()) v = static_cast<float>(rng.normal(0.0, stddev));
}

// Fills `weight` (and `bias` when not null) by `scheme`, with torch's fans: for a weight
// [out, in, k...], fan_in = in·Πk and fan_out = out·Πk.
inline void init_weights(const std::string& scheme, double fan_in, double fan_out, Tensor& weight, Tensor* bias,
                         Rng& rng) {
  if (bias) bias->zero();
  if (scheme == "torch_default") {
    // kaiming_uniform_(a=sqrt(5)): gain sqrt(1/3), bound gain*sqrt(3/fan_in) = 1/sqrt(fan_in);
    // nn.Linear and nn.Conv2d draw their bias from the same interval.
    const double bound = 1.0 / std::sqrt(fan_in);
    fill_uniform(weight, rng, -bound, bound);
    if (bias) fill_uniform(*bias, rng, -bound, bound);
  } else if (scheme == "xavier_uniform") {
    const double bound = std::sqrt(6.0 / (fan_in + fan_out));
    fill_uniform(weight, rng, -bound, bound);
  } else if (scheme == "xavier_normal") {
    fill_normal(weight, rng, std::sqrt(2.0 / (fan_in + fan_out)));
  } else if (scheme == "he_uniform") {
    const double bound = std::sqrt(6.0 / fan_in);
    fill_uniform(weight, rng, -bound, bound);
  } else if (scheme == "he_normal") {
    fill_normal(weight, rng, std::sqrt(2.0 / fan_in));
  } else if (scheme == "normal") {
    fill_normal(weight, rng, 1.0);  // torch.nn.init.normal_ defaults: mean 0, std 1
  } else if (scheme == "uniform") {
    fill_uniform(weight, rng, 0.0, 1.0);  // torch.nn.init.uniform_ defaults: a 0, b 1
  } else {
    weight.zero();
  }
}

}  // namespace gradflow::ops
