// erf, exp and tanh in float without calls or branches, so that GCC vectorises the loops that
// use them (it vectorises neither std::erf nor std::exp without -ffast-math, and the per-value
// call cost gelu 10x). Accuracy, checked densely against the C library in
// tests/operators/test_gelu.cpp: erf within 1e-7 absolute, tanh within 5e-8, exp within 3 ulp.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

namespace gradflow::fast {

// min(max(x, lo), hi) by value: std::clamp returns a reference, which GCC does not if-convert,
// and the loop would not vectorise.
template <class T>
[[gnu::always_inline]] inline T clamp(T x, T lo, T hi) {
  x = x < lo ? lo : x;
  return x > hi ? hi : x;
}

// erf(x) = x·P(x²)/Q(x²) on [-4, 4], ±1 beyond (erf(4) rounds to 1 in float). The rational
// approximation and its coefficients are the ones Eigen's generic_fast_erf_float publishes;
// evaluated in float it is off by up to 4.2e-7 (7 ulp near 1), in double by 9.5e-8, the
// float rounding of the result: double lanes, half as wide, still vectorise.
[[gnu::always_inline]] inline float erf(float xf) {
  const double x = clamp(static_cast<double>(xf), -4.0, 4.0);
  const double x2 = x * x;
  double p = -2.72614225801306e-10;
  p = p * x2 + 2.77068142495902e-08;
  p = p * x2 + -2.10102402082508e-06;
  p = p * x2 + -5.69250639462346e-05;
  p = p * x2 + -7.34990630326855e-04;
  p = p * x2 + -2.95459980854025e-03;
  p = p * x2 + -1.60960333262415e-02;
  double q = -1.45660718464996e-05;
  q = q * x2 + -2.13374055278905e-04;
  q = q * x2 + -1.68282697438203e-03;
  q = q * x2 + -7.37332916720468e-03;
  q = q * x2 + -1.42647390514189e-02;
  return static_cast<float>(x * p / q);
}

// exp(x) for x in [-87, 88] (clamped there: no overflow, no denormal): 2^n·e^r with n the
// nearest integer to x/ln 2 and r = x − n·ln 2 (ln 2 split in two for exactness), e^r by the
// Cephes expf polynomial, 2^n built in the exponent bits.
[[gnu::always_inline]] inline float exp(float x) {
  x = clamp(x, -87.0f, 88.0f);
  constexpr float kRound = 12582912.0f;  // 1.5·2^23: adding it rounds to an integer
  const float n = (x * 1.44269504088896341f + kRound) - kRound;
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * (r * r) + r + 1.0f;
  // A NaN x gives a NaN er; its n must still convert to an integer (a NaN cast is undefined),
  // so it takes 0 there: a select, which keeps the loop branch-free.
  const float whole = n == n ? n : 0.0f;
  const auto bits = static_cast<uint32_t>(static_cast<int32_t>(whole) + 127) << 23;
  return er * std::bit_cast<float>(bits);
}

// tanh(x): near 0, x·P(x²)/Q(x²) (Eigen's generic_fast_tanh_float coefficients) in double;
// from |x| = 0.625, 1 − 2/(e^{2|x|} + 1) with the sign of x, where the rational alone is off
// by up to 2e-7 and this form has no cancellation. Both are computed and one selected, so the
// loop stays branch-free. Within 5e-8 of the C library's tanh.
[[gnu::always_inline]] inline float tanh(float xf) {
  const double x = clamp(static_cast<double>(xf), -7.90531110763549805, 7.90531110763549805);
  const double x2 = x * x;
  double p = -2.76076847742355e-16;
  p = p * x2 + 2.00018790482477e-13;
  p = p * x2 + -8.60467152213735e-11;
  p = p * x2 + 5.12229709037114e-08;
  p = p * x2 + 1.48572235717979e-05;
  p = p * x2 + 6.37261928875436e-04;
  p = p * x2 + 4.89352455891786e-03;
  double q = 1.19825839466702e-06;
  q = q * x2 + 1.18534705686654e-04;
  q = q * x2 + 2.26843463243900e-03;
  q = q * x2 + 4.89352518554385e-03;
  const float a = xf < 0.0f ? -xf : xf;
  const double e = exp(2.0f * a);
  const double far = 1.0 - 2.0 / (e + 1.0);
  return static_cast<float>(a < 0.625f ? x * p / q : (xf < 0.0f ? -far : far));
}

}  // namespace gradflow::fast
