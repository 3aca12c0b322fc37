// The fused CPU selective scan (src/models/selective_scan_cpu_kernel.cpp) as a differentiable
// LibTorch op: what selective_scan() runs for CPU tensors, the chunked LibTorch scan being
// kept for DFER_SCAN=chunked and as the yardstick.
#pragma once

#include <torch/torch.h>

namespace dfer::models {

// The arguments, layouts and mathematics of selective_scan() (dfer/models/selective_scan.h):
// u, delta, z (B, E, L); A (E, N); Bm, Cm (B, N, L); D, delta_bias (E); z, D and delta_bias may
// be undefined. Every tensor on the CPU. Arithmetic in fp32 (bf16/fp16 inputs, under autocast
// or not, are converted first; exp(dt A) is a vectorised polynomial within 1 ulp of exact), or
// in double when u is double. The step sizes softplus(delta + delta_bias) are LibTorch ops, the
// recurrence one loop per (batch, channel) row, rows spread over the intra-op threads with
// at::parallel_for (OpenMP: cmake/cpu_scan.cmake). The forward keeps the state at every
// `chunk`-th step; the backward recomputes each chunk's states from it, so the extra memory is
// (B, E, L / chunk, N) plus a chunk of states per thread. Returns (B, E, L) in u's dtype.
torch::Tensor selective_scan_cpu(const torch::Tensor& u, const torch::Tensor& delta,
                                 const torch::Tensor& A, const torch::Tensor& Bm,
                                 const torch::Tensor& Cm, const torch::Tensor& D,
                                 const torch::Tensor& z, const torch::Tensor& delta_bias,
                                 bool delta_softplus = true, int64_t chunk = 64);

// Whether the fused CPU scan takes these inputs (u on the CPU, floating point): selective_scan()
// sends everything else to the chunked scan.
bool selective_scan_cpu_supports(const torch::Tensor& u);

}  // namespace dfer::models
