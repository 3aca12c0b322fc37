// Loops over the N states of one step for the fused CPU selective scan, written so that the
// compiler vectorises them at the baseline instruction set: an exponential without a library
// call, and sums in a fixed lane order. Header-only: the scan's loops inline them.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

// Forced inlining: the scan's per-row loops are compiled once more for AVX2 (see
// selective_scan_cpu_kernel.cpp), and these helpers only take that instruction set when they are
// inlined into them.
#if defined(__GNUC__)
#define DFER_SCAN_INLINE inline __attribute__((always_inline))
#else
#define DFER_SCAN_INLINE inline
#endif

namespace dfer::models::cpu_scan {

// e^x for float, within 1 ulp of the exact value for x in [-87, 88] (0.94 at worst, measured); 0
// below (expf is below 1.7e-38 there, at the edge of the denormals; the scan's decays exp(dt A)
// only ever get there as "gone"), +inf above (expf is within a factor 2 of overflowing there), NaN
// stays NaN. expf itself is a library call, which keeps the loop around it scalar: the scan spends
// N of these per step and channel, most of its time. The method is the textbook one: x = k ln2 + r
// with |r| <= ln2 / 2, e^r from a degree-6 polynomial (Cephes' expf coefficients), 2^k written into
// the exponent bits.
DFER_SCAN_INLINE float exp_lane(float x) {
  // -87, |-87| and 88 as float bits; +inf's bits.
  constexpr int32_t kLoBits = int32_t(0xc2ae0000u), kLoMagBits = 0x42ae0000, kHiBits = 0x42b00000;
  constexpr int32_t kInfBits = 0x7f800000;
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;  // ln2 = hi + lo, hi exact
  // Adding 1.5 * 2^23 rounds to an integer (ties to even) in the low mantissa bits; this is plain
  // IEEE arithmetic, so the compiler may not fold it away.
  constexpr float kRound = 12582912.0f;
  constexpr int32_t kRoundBits = 0x4b400000;
  // The range tests compare the bits as integers: a float compare may trap (on NaN), and the
  // compiler then keeps the select as a branch and the loop scalar (short of -fno-trapping-math).
  int32_t ix;
  std::memcpy(&ix, &x, sizeof ix);
  const int32_t mag = ix & 0x7fffffff;
  // All-ones masks rather than selects: a select lets the compiler skip the polynomial for the
  // out-of-range x, which puts float operations under a branch again.
  const int32_t not_nan = -int32_t(mag <= kInfBits);
  const int32_t under = -int32_t(ix < 0) & -int32_t(mag > kLoMagBits) & not_nan;
  const int32_t over = -int32_t(ix >= 0) & -int32_t(mag > kHiBits) & not_nan;
  const int32_t xb = (ix & ~(under | over)) | (kLoBits & under) | (kHiBits & over);
  float xc;
  std::memcpy(&xc, &xb, sizeof xc);
  const float t = xc * kLog2e + kRound;
  const float k = t - kRound;
  const float r = (xc - k * kLn2Hi) - k * kLn2Lo;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * r * r + r + 1.0f;
  int32_t tb;
  std::memcpy(&tb, &t, sizeof tb);
  const int32_t scale_bits = (tb - kRoundBits + 127) << 23;  // 2^k, k in [-126, 127]
  float scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  // The out-of-range answers replace the bits of the in-range one: a float operation under a
  // condition could trap as well, so every one above runs for every x.
  const float e = er * scale;
  int32_t eb;
  std::memcpy(&eb, &e, sizeof eb);
  eb = (eb & ~(under | over)) | (kInfBits & over);
  float result;
  std::memcpy(&result, &eb, sizeof result);
  return result;
}

// out[n] = exp(s * a[n]): float takes exp_lane, double (the tests' precision) the library.
DFER_SCAN_INLINE void scaled_exp(int64_t N, float s, const float* a, float* out) {
  for (int64_t n = 0; n < N; ++n) out[n] = exp_lane(s * a[n]);
}
DFER_SCAN_INLINE void scaled_exp(int64_t N, double s, const double* a, double* out) {
  for (int64_t n = 0; n < N; ++n) out[n] = std::exp(s * a[n]);
}

// The sum of v[0..N) in four interleaved lanes, then the lanes pairwise: a fixed order (the same
// numbers on every run) that vectorises, where a single accumulator is a chain of N dependent adds.
template <typename T>
DFER_SCAN_INLINE T lane_sum(int64_t N, const T* v) {
  T acc[4] = {T(0), T(0), T(0), T(0)};
  int64_t n = 0;
  for (; n + 4 <= N; n += 4)
    for (int k = 0; k < 4; ++k) acc[k] += v[n + k];
  for (int k = 0; n < N; ++n, ++k) acc[k] += v[n];
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

}  // namespace dfer::models::cpu_scan
