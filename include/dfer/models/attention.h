// Multi-head attention: the scaled-dot-product kernel (fused or explicit, selectable), the ViT
// `Attention` (one fused qkv projection) and the LGI-Former `GeneralAttention` (q and kv
// projections; self- or cross-attention). Both have q and v biases and no k bias.
#pragma once

#include <torch/torch.h>

namespace dfer::models {

enum class AttentionBackend {
  kFused,     // LibTorch's scaled_dot_product_attention (flash / memory-efficient kernels)
  kExplicit,  // softmax(q k^T * scale) v written out, exactly the upstream formula
  // kExplicit on the CPU when the attention is differentiated, or in bf16/fp16 over at most 512
  // keys; else kFused. Measured with the base LGI-Former in bf16 on 2 CPU threads: the CPU flash
  // kernel's backward took 2.37 s of a 3.26 s step, the explicit form's 1.39 s of 2.27 s. Forward
  // only, bf16: 101 keys (LGI local attention) 5.4-6.0 ms fused against 2.6 ms explicit, 200 keys
  // 3.5 / 2.0, 400 keys 24 / 16, 800 keys 30-32 / 24-43; in fp32 the fused kernel is as fast or
  // faster (400 keys: 24 / 61 ms). On CUDA the fused kernels are the fast ones.
  kAuto,
};

// Process-wide choice used by every attention module (default kAuto).
void set_attention_backend(AttentionBackend backend);
AttentionBackend attention_backend();
const char* to_string(AttentionBackend backend);

// q (B, H, Lq, D), k and v (B, H, Lk, D) -> (B, H, Lq, D). `scale` multiplies q k^T; dropout on
// the attention weights only when `training` and dropout_p > 0.
torch::Tensor scaled_dot_product(const torch::Tensor& q, const torch::Tensor& k,
                                 const torch::Tensor& v, double scale, double dropout_p,
                                 bool training, AttentionBackend backend);
torch::Tensor scaled_dot_product(const torch::Tensor& q, const torch::Tensor& k,
                                 const torch::Tensor& v, double scale, double dropout_p,
                                 bool training);

// ViT attention (modeling_finetune.Attention): qkv Linear(dim -> 3*dim, no bias) with the bias
// cat(q_bias, 0, v_bias); `proj` Linear(dim -> dim). Keys: q_bias, v_bias, qkv.weight,
// proj.weight, proj.bias.
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t dim, int64_t num_heads, bool qkv_bias, double attn_drop, double proj_drop);
  torch::Tensor forward(const torch::Tensor& x);  // (B, N, C) -> (B, N, C)

  torch::Tensor q_bias, v_bias;  // undefined without qkv_bias
  torch::nn::Linear qkv{nullptr}, proj{nullptr};

 private:
  int64_t num_heads_, head_dim_;
  double scale_, attn_drop_, proj_drop_;
};
TORCH_MODULE(Attention);

// LGI-Former attention (modeling_finetune.GeneralAttention): q Linear(dim -> dim, no bias) +
// q_bias; kv Linear(dim -> 2*dim, no bias) with bias cat(0, v_bias) (rows [0, dim) are K, [dim,
// 2*dim) V). Keys: q_bias, v_bias, q.weight, kv.weight, proj.weight, proj.bias.
class GeneralAttentionImpl : public torch::nn::Module {
 public:
  GeneralAttentionImpl(int64_t dim, int64_t num_heads, bool qkv_bias, double attn_drop,
                       double proj_drop);
  // x (B, T1, C); context (B, T2, C) or undefined for self-attention -> (B, T1, C).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context = {});

  torch::Tensor q_bias, v_bias;
  torch::nn::Linear q{nullptr}, kv{nullptr}, proj{nullptr};

 private:
  int64_t dim_, num_heads_, head_dim_;
  double scale_, attn_drop_, proj_drop_;
};
TORCH_MODULE(GeneralAttention);

}  // namespace dfer::models
