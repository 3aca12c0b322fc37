// Transformer blocks: the plain pre-LN ViT `Block` and the LGI-Former `LGBlock` (local
// intra-region attention, global attention among region tokens, local-global interaction, FFN).
#pragma once

#include "dfer/models/attention.h"
#include "dfer/models/layers.h"

#include <torch/torch.h>

namespace dfer::models {

struct BlockOptions {
  int64_t dim = 768;
  int64_t num_heads = 12;
  double mlp_ratio = 4.0;
  bool qkv_bias = false;
  double drop = 0.0;
  double attn_drop = 0.0;
  double drop_path = 0.0;
  double init_values = 0.0;  // > 0: layer-scale parameters gamma_1/gamma_2 (Block only)
  double norm_eps = 1e-6;
};

// x + DropPath(attn(norm1(x))), then x + DropPath(mlp(norm2(x))) (optionally scaled by gamma).
// Keys: [gamma_1, gamma_2,] norm1.*, attn.*, norm2.*, mlp.*.
class BlockImpl : public torch::nn::Module {
 public:
  explicit BlockImpl(const BlockOptions& o);
  torch::Tensor forward(const torch::Tensor& x);  // (B, N, C)

  torch::Tensor gamma_1, gamma_2;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Attention attn{nullptr};
  Mlp mlp{nullptr};

 private:
  double drop_path_;
};
TORCH_MODULE(Block);

struct LGBlockOptions {
  BlockOptions base;
  bool first_attn_cross = false;  // "cross": the region token queries its own local tokens
  bool third_attn_self = false;   // "self": plain self-attention inside each region again
  bool share_first_third = false;
  bool share_all = false;
  bool no_second = false;
  bool no_third = false;
};

// The LGI-Former block. Works on x (B*M, S, C): M regions per clip, row 0 of every region is its
// representative token, rows 1..S-1 are the local tokens. Keys, in upstream order:
// first_attn_norm0, [first_attn_norm1 (cross first)], first_attn, [second_attn_norm0, second_attn]
// (unless no_second), [third_attn_norm0, [third_attn_norm1 (cross third)], third_attn] (unless
// no_third), norm2, mlp. Shared attentions are registered under both names, as upstream's
// state_dict lists them.
class LGBlockImpl : public torch::nn::Module {
 public:
  explicit LGBlockImpl(const LGBlockOptions& o);
  // x (B*M, S, C), `batch` = B -> (B*M, S, C).
  torch::Tensor forward(const torch::Tensor& x, int64_t batch);

  torch::nn::LayerNorm first_attn_norm0{nullptr}, first_attn_norm1{nullptr};
  torch::nn::LayerNorm second_attn_norm0{nullptr};
  torch::nn::LayerNorm third_attn_norm0{nullptr}, third_attn_norm1{nullptr};
  GeneralAttention first_attn{nullptr}, second_attn{nullptr}, third_attn{nullptr};
  torch::nn::LayerNorm norm2{nullptr};
  Mlp mlp{nullptr};

 private:
  LGBlockOptions o_;
};
TORCH_MODULE(LGBlock);

}  // namespace dfer::models
