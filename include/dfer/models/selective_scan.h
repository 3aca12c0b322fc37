// The Mamba selective scan (SPEC-videomamba §2.4): a plain sequential reference loop (the test
// oracle) and a chunked scan whose memory is linear in the chunk length, with its own backward.
#pragma once

#include <torch/torch.h>

namespace dfer::models {

// Layouts follow upstream's selective_scan_ref (channels first):
//   u, delta, z      (B, E, L)   input, raw step (before bias and softplus), gate (optional)
//   A                (E, N)      already -exp(A_log): real and negative
//   Bm, Cm           (B, N, L)   input-dependent, shared by all E channels
//   D, delta_bias    (E)         skip weight and step bias (both optional: undefined tensor)
// With dt = softplus(delta + delta_bias) (torch's threshold 20) when delta_softplus, else
// delta + delta_bias, and h_0 = 0:
//   h_t = exp(dt_t A) h_{t-1} + dt_t Bm_t u_t,   y_t = Cm_t . h_t + D u_t,   out = y * SiLU(z).
// Returns (B, E, L) in u's dtype. Arithmetic is fp32 whatever the inputs (double stays double,
// for the tests), also under autocast.

// The sequential loop over L, written as the formula reads. Differentiable through autograd, but
// its graph holds every step's state: use it for tests only.
torch::Tensor selective_scan_reference(const torch::Tensor& u, const torch::Tensor& delta,
                                       const torch::Tensor& A, const torch::Tensor& Bm,
                                       const torch::Tensor& Cm, const torch::Tensor& D,
                                       const torch::Tensor& z, const torch::Tensor& delta_bias,
                                       bool delta_softplus = true);

// The scan the models use. CPU tensors go to the fused CPU scan (selective_scan_cpu.h, plain
// loops, `chunk` steps between saved states); in a CUDA build with DFER_CUDA_SCAN, CUDA tensors
// go to
//   torch::Tensor selective_scan_cuda(u, delta, A, Bm, Cm, D, z, delta_bias, delta_softplus)
// (selective_scan_cuda.h: the same arguments without `chunk`, differentiable). Everything else,
// and everything when the environment says DFER_SCAN=chunked, takes selective_scan_chunked():
// chunks of `chunk` steps in pure LibTorch ops, carrying the (B, E, N) state between chunks, so
// the peak extra memory is O(B E N chunk), never the (B, E, L, N) history. Every path's backward
// saves only the inputs and the chunk-boundary states and recomputes each chunk in reverse order.
torch::Tensor selective_scan(const torch::Tensor& u, const torch::Tensor& delta,
                             const torch::Tensor& A, const torch::Tensor& Bm,
                             const torch::Tensor& Cm, const torch::Tensor& D,
                             const torch::Tensor& z, const torch::Tensor& delta_bias,
                             bool delta_softplus = true, int64_t chunk = 64);

// Throws dfer::Error naming every shape unless the arguments have the layouts above (the paths
// share it so that each names the same mistake the same way).
void check_selective_scan_shapes(const torch::Tensor& u, const torch::Tensor& delta,
                                 const torch::Tensor& A, const torch::Tensor& Bm,
                                 const torch::Tensor& Cm, const torch::Tensor& D,
                                 const torch::Tensor& z, const torch::Tensor& delta_bias);

// How a chunk is scanned inside (the results agree to rounding): one fused step per token
// (kSequential: least memory traffic, the CPU choice) or log2(chunk) whole-chunk steps of an
// associative scan (kLogDepth: few operator launches, the GPU choice). kAuto picks by device.
enum class ScanAlgorithm { kAuto, kSequential, kLogDepth };

// The chunked path itself, never dispatched to CUDA kernels: the fallback and the yardstick the
// CUDA kernel is checked against.
torch::Tensor selective_scan_chunked(const torch::Tensor& u, const torch::Tensor& delta,
                                     const torch::Tensor& A, const torch::Tensor& Bm,
                                     const torch::Tensor& Cm, const torch::Tensor& D,
                                     const torch::Tensor& z, const torch::Tensor& delta_bias,
                                     bool delta_softplus = true, int64_t chunk = 64,
                                     ScanAlgorithm algorithm = ScanAlgorithm::kAuto);

}  // namespace dfer::models
