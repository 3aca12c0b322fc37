// The fused CPU selective-scan loops (selective_scan_cpu_kernel.cpp): raw pointers, sizes and
// strides, templated on the compute type (float for the models, double for the tests). The
// mathematics is SPEC-videomamba §2.4; dfer/models/selective_scan_cpu.h is the LibTorch face.
// The loops take the step sizes dt after the bias and softplus: those are per (b, e, t), not per
// state, and LibTorch's vectorised softplus (the reference's own) computes them in one pass.
#pragma once

#include <cstdint>

namespace dfer::models::cpu_scan {

// A (batch, rows, length) view whose last stride is 1. For u, dt, z and the output gradient
// the rows are channels and the last axis is time; for Bm and Cm the rows are time steps and the
// last axis is the state, (B, L, N): that is how the mixer's x_proj output lies in memory, and it
// makes the inner loop over n contiguous.
template <typename T>
struct View3 {
  const T* data = nullptr;
  int64_t stride_batch = 0;
  int64_t stride_row = 0;

  const T* row(int64_t b, int64_t r) const { return data + b * stride_batch + r * stride_row; }
};

template <typename T>
struct ScanArgs {
  int64_t batch = 0, dim = 0, dstate = 0, length = 0;  // B, E, N, L
  int64_t chunk = 64;    // steps between two saved states (the backward's recompute window)
  View3<T> u, dt, z;     // (B, E, L); z.data null: no gate
  View3<T> Bm, Cm;       // (B, L, N)
  const T* A = nullptr;  // (E, N) contiguous, already -exp(A_log)
  const T* D = nullptr;  // (E) or null
};

inline int64_t num_chunks(int64_t length, int64_t chunk) {
  return (length + chunk - 1) / chunk;
}

// out: (B, E, L) contiguous. states: (B, E, num_chunks(L, chunk), N) contiguous, the state
// entering each chunk, kept for the backward. Parallel over (batch, channel).
template <typename T>
void scan_forward(const ScanArgs<T>& args, T* out, T* states);

template <typename T>
struct ScanGrads {
  View3<T> gout;     // (B, E, L): d loss / d out
  T* du = nullptr;   // (B, E, L) contiguous, written
  T* ddt = nullptr;  // (B, E, L) contiguous, written
  T* dz = nullptr;   // (B, E, L) contiguous, written; null without z
  T* dA = nullptr;   // (E, N), written
  T* dB = nullptr;   // (B, L, N) contiguous, written
  T* dC = nullptr;   // (B, L, N) contiguous, written
  T* dD = nullptr;   // (E) written, or null
};

// Every input's gradient from the states scan_forward saved. The sums over channels (dB, dC)
// and over the batch (dA, dD) go to per-worker partial buffers that are added up
// in a fixed order at the end: no atomics, no races, and the same numbers on every run with
// the same thread count.
template <typename T>
void scan_backward(const ScanArgs<T>& args, const T* states, const ScanGrads<T>& grads);

extern template void scan_forward<float>(const ScanArgs<float>&, float*, float*);
extern template void scan_forward<double>(const ScanArgs<double>&, double*, double*);
extern template void scan_backward<float>(const ScanArgs<float>&, const float*,
                                          const ScanGrads<float>&);
extern template void scan_backward<double>(const ScanArgs<double>&, const double*,
                                           const ScanGrads<double>&);

}  // namespace dfer::models::cpu_scan
