// The fused CUDA selective scan (src/models/cuda/selective_scan_kernel.cu) as a differentiable
// LibTorch op. Defined only in CUDA builds that compiled the kernel (DFER_CUDA_SCAN); the models
// reach it through selective_scan(), which falls back to the chunked LibTorch scan elsewhere.
#pragma once

#include <torch/torch.h>

namespace dfer::models {

// The arguments, layouts and mathematics of selective_scan() (dfer/models/selective_scan.h):
// u, delta, z (B, E, L); A (E, N); Bm, Cm (B, N, L); D, delta_bias (E); z, D and delta_bias may
// be undefined. Every tensor on one CUDA device; u, delta, z, Bm, Cm in fp32, bf16 or fp16 (mixed
// dtypes are computed from fp32 copies). One kernel forward, one recomputing kernel backward;
// the extra memory is the fp32 state at every 32nd step. Returns (B, E, L) in u's dtype.
torch::Tensor selective_scan_cuda(const torch::Tensor& u, const torch::Tensor& delta,
                                  const torch::Tensor& A, const torch::Tensor& Bm,
                                  const torch::Tensor& Cm, const torch::Tensor& D,
                                  const torch::Tensor& z, const torch::Tensor& delta_bias,
                                  bool delta_softplus = true);

// Whether the kernel takes these inputs (CUDA, fp32/bf16/fp16, N <= 32, a non-empty batch of at
// most 65535): selective_scan() sends everything else to the chunked scan.
bool selective_scan_cuda_supports(const torch::Tensor& u, const torch::Tensor& A);

}  // namespace dfer::models
