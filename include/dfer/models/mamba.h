// The Mamba layers of VideoMamba (SPEC-videomamba §2.2-2.4): RMSNorm, the bidirectional Mamba
// mixer ("bimamba v2": each direction has its own conv1d, x_proj, dt_proj, A and D) and the
// pre-norm Block that carries an fp32 residual stream beside the mixer output.
#pragma once

#include <torch/torch.h>

#include <utility>

namespace dfer::models {

// weight * x / sqrt(mean(x^2) + eps) over the last dimension; no bias. Computed in fp32 (the
// Triton kernel upstream does the same), returned in `out_dtype` (default: x's dtype).
class RMSNormImpl : public torch::nn::Module {
 public:
  explicit RMSNormImpl(int64_t dim, double eps = 1e-5);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor forward(const torch::Tensor& x, at::ScalarType out_dtype);

  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

struct MambaOptions {
  int64_t d_model = 192;
  int64_t d_state = 16;
  int64_t d_conv = 4;
  int64_t expand = 2;
  int64_t dt_rank = 0;  // 0: ceil(d_model / 16), as upstream's "auto"
  int64_t scan_chunk = 64;

  int64_t d_inner() const { return expand * d_model; }
  int64_t rank() const { return dt_rank > 0 ? dt_rank : (d_model + 15) / 16; }
};

// Parameter names as upstream (mamba_simple.Mamba with bimamba_type "v2"): in_proj (no bias),
// conv1d / conv1d_b (depthwise, bias), x_proj / x_proj_b (no bias), dt_proj / dt_proj_b (bias),
// A_log / A_b_log (E, N), D / D_b (E), out_proj (no bias).
class BiMambaImpl : public torch::nn::Module {
 public:
  explicit BiMambaImpl(const MambaOptions& options);

  // (B, L, d_model) -> (B, L, d_model): out_proj(y_f + flip(y_b)), where y_b is the same
  // computation as y_f with the _b parameters on the channels-first x and z reversed in time.
  torch::Tensor forward(const torch::Tensor& hidden);

  // One direction on xz (B, 2E, L), channels first: x, z = split; u = SiLU(causal depthwise
  // conv(x)); dt_low, B, C = x_proj(u); y = scan(u, dt_proj.weight dt_low, -exp(A_log), B, C, D,
  // z, dt_proj.bias). Exposed for the tests of the flip semantics.
  torch::Tensor direction(const torch::Tensor& xz, bool backward);

  // Upstream's Mamba initialisation: S4D-real A_log = log(1..N) per row, D = 1, dt_proj weight
  // uniform(+-rank^-1/2) and bias softplus^-1(dt), dt log-uniform in [1e-3, 0.1] floored at 1e-4;
  // PyTorch's defaults elsewhere. (VisionMamba re-initialises the Linears afterwards.)
  void reset_parameters();

  const MambaOptions& options() const { return options_; }

  torch::nn::Linear in_proj{nullptr}, x_proj{nullptr}, dt_proj{nullptr};
  torch::nn::Linear x_proj_b{nullptr}, dt_proj_b{nullptr}, out_proj{nullptr};
  torch::nn::Conv1d conv1d{nullptr}, conv1d_b{nullptr};
  torch::Tensor A_log, D, A_b_log, D_b;

 private:
  MambaOptions options_;
};
TORCH_MODULE(BiMamba);

// Add -> RMSNorm -> mixer, with the residual returned beside the mixer output (upstream Block):
//   residual = hidden (first block: residual undefined) or residual + DropPath(hidden), in fp32;
//   hidden = mixer(norm(residual)).
class MambaBlockImpl : public torch::nn::Module {
 public:
  MambaBlockImpl(const MambaOptions& options, double drop_path, double norm_eps = 1e-5);

  // Returns (hidden, residual).
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& hidden,
                                                  const torch::Tensor& residual);

  BiMamba mixer{nullptr};
  RMSNorm norm{nullptr};

 private:
  double drop_path_;
};
TORCH_MODULE(MambaBlock);

// The residual update shared by the blocks and the final norm: hidden alone at the start, else
// residual + DropPath(hidden); always fp32 (upstream residual_in_fp32) unless x is double.
torch::Tensor add_residual(const torch::Tensor& hidden, const torch::Tensor& residual,
                           double drop_path, bool training);

}  // namespace dfer::models
