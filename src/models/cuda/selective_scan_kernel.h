// Launchers of the fused selective-scan CUDA kernels (selective_scan_kernel.cu): raw pointers,
// sizes and strides, no LibTorch, so that the .cu compiles with nvcc alone and quickly.
// The mathematics is SPEC-videomamba §2.4; dfer/models/selective_scan_cuda.h is the LibTorch face.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace dfer::models::cuda_scan {

// Steps between two saved states. The forward keeps the state entering every chunk, the
// backward recomputes one chunk's states from it into shared memory: 32 keeps the backward's
// shared memory under the 48 KiB every architecture grants without asking (bar N <= 4).
constexpr int kChunk = 32;
// One thread per (channel, state): a channel's states are lanes of one warp, so the sums over N
// are warp shuffles. N = 16 in every VideoMamba and Mamba size.
constexpr int kMaxState = 32;

inline int64_t num_chunks(int64_t length) {
  return (length + kChunk - 1) / kChunk;
}

// The dtype of u, delta, z, Bm, Cm, out and the gradients du, ddelta, dz (one for all of them).
// A, D and delta_bias are always fp32; every computation is fp32.
enum class DType { kFloat32, kBFloat16, kFloat16 };

// A (batch, rows, length) view whose last stride is 1: rows are channels (u, delta, z) or
// states (Bm, Cm).
struct View3 {
  const void* data = nullptr;
  int64_t stride_batch = 0;
  int64_t stride_row = 0;
};

struct ScanArgs {
  int64_t batch = 0, dim = 0, dstate = 0, length = 0;  // B, E, N, L
  DType dtype = DType::kFloat32;
  View3 u, delta, z;                  // (B, E, L); z.data null: no gate
  View3 Bm, Cm;                       // (B, N, L)
  const float* A = nullptr;           // (E, N) contiguous, already -exp(A_log)
  const float* D = nullptr;           // (E) or null
  const float* delta_bias = nullptr;  // (E) or null
  bool softplus = true;
};

// out: (B, E, L) contiguous in args.dtype. states: (B, E, num_chunks(L), N) fp32, the state
// entering each chunk, for the backward. Returns the launch's error (cudaSuccess when queued).
cudaError_t scan_forward(const ScanArgs& args, void* out, float* states, cudaStream_t stream);

struct ScanGrads {
  const void* gout = nullptr;  // (B, E, L) contiguous, args.dtype
  void* du = nullptr;          // (B, E, L) contiguous, args.dtype, written
  void* ddelta = nullptr;      // (B, E, L) contiguous, args.dtype, written
  void* dz = nullptr;          // (B, E, L) contiguous, args.dtype, written; null without z
  // fp32 and zero-filled by the caller: the kernel adds its partial sums atomically.
  float* dA = nullptr;           // (E, N)
  float* dB = nullptr;           // (B, N, L) contiguous
  float* dC = nullptr;           // (B, N, L) contiguous
  float* dD = nullptr;           // (E) or null
  float* ddelta_bias = nullptr;  // (E) or null
};

// The gradients of every input given d loss / d out, from the states scan_forward saved.
cudaError_t scan_backward(const ScanArgs& args, const float* states, const ScanGrads& grads,
                          cudaStream_t stream);

}  // namespace dfer::models::cuda_scan
