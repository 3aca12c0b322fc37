// Attention kernel selection and the two attention modules (see dfer/models/attention.h).
#include "dfer/models/attention.h"

#include <ATen/autocast_mode.h>

#include "dfer/models/layers.h"
#include "dfer/models/lora.h"
#include "dfer/models/packed_linear.h"
#include "dfer/util/error.h"

#include <atomic>
#include <cmath>

namespace dfer::models {

namespace {

std::atomic<AttentionBackend> g_backend{AttentionBackend::kAuto};

torch::Tensor explicit_attention(const torch::Tensor& q, const torch::Tensor& k,
                                 const torch::Tensor& v, double scale, double dropout_p,
                                 bool training) {
  auto attn = torch::matmul(q * scale, k.transpose(-2, -1)).softmax(-1);
  if (dropout_p > 0.0 && training) attn = torch::dropout(attn, dropout_p, true);
  return torch::matmul(attn, v);
}

torch::Tensor fused_attention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, double scale, double dropout_p,
                              bool training) {
  const double p = training ? dropout_p : 0.0;
  // The public kernel (LibTorch >= 2.1 takes the scale): flash attention on CPU and CUDA where
  // the dtype and shapes allow, else the memory-efficient or math kernel.
  return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, p, /*is_causal=*/false, scale);
}

// The three pieces of a q/v-only bias: upstream concatenates a zero block for k.
torch::Tensor qkv_bias_of(const torch::Tensor& q_bias, const torch::Tensor& v_bias) {
  if (!q_bias.defined()) return {};
  return torch::cat({q_bias, torch::zeros_like(v_bias), v_bias});
}

// The output projection, plus its LoRA update when it has an adapter.
torch::Tensor project(torch::nn::Linear& proj, const torch::Tensor& x) {
  auto y = linear(proj, x);
  if (auto d = lora_delta(*proj, x); d.defined()) y = y + d;
  return y;
}

}  // namespace

void set_attention_backend(AttentionBackend backend) {
  g_backend.store(backend);
}
AttentionBackend attention_backend() {
  return g_backend.load();
}

const char* to_string(AttentionBackend backend) {
  switch (backend) {
    case AttentionBackend::kFused:
      return "fused";
    case AttentionBackend::kExplicit:
      return "explicit";
    case AttentionBackend::kAuto:
      break;
  }
  return "auto";
}

torch::Tensor scaled_dot_product(const torch::Tensor& q, const torch::Tensor& k,
                                 const torch::Tensor& v, double scale, double dropout_p,
                                 bool training, AttentionBackend backend) {
  if (backend == AttentionBackend::kAuto) {
    const bool differentiated = torch::GradMode::is_enabled() &&
                                (q.requires_grad() || k.requires_grad() || v.requires_grad());
    const bool reduced = q.scalar_type() == at::kBFloat16 || q.scalar_type() == at::kHalf;
    backend = !q.is_cuda() && (differentiated || (reduced && k.size(-2) <= 512))
                  ? AttentionBackend::kExplicit
                  : AttentionBackend::kFused;
  }
  if (backend == AttentionBackend::kExplicit)
    return explicit_attention(q, k, v, scale, dropout_p, training);
  return fused_attention(q, k, v, scale, dropout_p, training);
}

torch::Tensor scaled_dot_product(const torch::Tensor& q, const torch::Tensor& k,
                                 const torch::Tensor& v, double scale, double dropout_p,
                                 bool training) {
  return scaled_dot_product(q, k, v, scale, dropout_p, training, attention_backend());
}

AttentionImpl::AttentionImpl(int64_t dim, int64_t num_heads, bool qkv_bias, double attn_drop,
                             double proj_drop)
    : num_heads_(num_heads),
      head_dim_(dim / num_heads),
      scale_(1.0 / std::sqrt(static_cast<double>(dim / num_heads))),
      attn_drop_(attn_drop),
      proj_drop_(proj_drop) {
  qkv =
      register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(dim, 3 * dim).bias(false)));
  if (qkv_bias) {
    q_bias = register_parameter("q_bias", torch::zeros({dim}));
    v_bias = register_parameter("v_bias", torch::zeros({dim}));
  }
  proj = register_module("proj", torch::nn::Linear(dim, dim));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), N = x.size(1), C = x.size(2);
  auto qkv_out = dense(x, qkv->weight, qkv_bias_of(q_bias, v_bias));
  if (auto d = lora_delta(*qkv, x); d.defined()) qkv_out = qkv_out + d;
  // (B, N, 3, H, D) -> (3, B, H, N, D)
  auto parts = qkv_out.view({B, N, 3, num_heads_, head_dim_}).permute({2, 0, 3, 1, 4}).unbind(0);
  auto out = scaled_dot_product(parts[0], parts[1], parts[2], scale_, attn_drop_, is_training());
  out = project(proj, out.transpose(1, 2).reshape({B, N, C}));
  if (proj_drop_ > 0.0) out = torch::dropout(out, proj_drop_, is_training());
  return out;
}

GeneralAttentionImpl::GeneralAttentionImpl(int64_t dim, int64_t num_heads, bool qkv_bias,
                                           double attn_drop, double proj_drop)
    : dim_(dim),
      num_heads_(num_heads),
      head_dim_(dim / num_heads),
      scale_(1.0 / std::sqrt(static_cast<double>(dim / num_heads))),
      attn_drop_(attn_drop),
      proj_drop_(proj_drop) {
  q = register_module("q", torch::nn::Linear(torch::nn::LinearOptions(dim, dim).bias(false)));
  kv = register_module("kv", torch::nn::Linear(torch::nn::LinearOptions(dim, 2 * dim).bias(false)));
  if (qkv_bias) {
    q_bias = register_parameter("q_bias", torch::zeros({dim}));
    v_bias = register_parameter("v_bias", torch::zeros({dim}));
  }
  proj = register_module("proj", torch::nn::Linear(dim, dim));
}

torch::Tensor GeneralAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& context) {
  const auto& ctx = context.defined() ? context : x;
  const int64_t B = x.size(0), T1 = x.size(1), T2 = ctx.size(1);
  // The context cast once for both of its products. Without autograd, self-attention's query
  // takes the same cast; with it, the query keeps its own, so that its gradient reaches x in fp32
  // (a shared cast would sum the three gradients in bf16 first).
  const auto ctx_c = autocast_operand(ctx);
  const bool shared = !context.defined() && !torch::GradMode::is_enabled();
  auto qx = dense(shared ? ctx_c : x, q->weight, q_bias);
  if (auto d = lora_delta(*q, x); d.defined()) qx = qx + d;
  auto qh = qx.view({B, T1, num_heads_, head_dim_}).transpose(1, 2);
  // K and V as two products with the halves of kv.weight: the same numbers as one product with
  // bias cat(0, v_bias), without building the zero block or splitting the output.
  auto kx = dense(ctx_c, kv->weight, {}, 0, dim_);
  auto vx = dense(ctx_c, kv->weight, v_bias, dim_, dim_);
  if (auto d = lora_delta(*kv, ctx, 0, dim_); d.defined()) kx = kx + d;
  if (auto d = lora_delta(*kv, ctx, dim_, dim_); d.defined()) vx = vx + d;
  auto kh = kx.view({B, T2, num_heads_, head_dim_}).transpose(1, 2);
  auto vh = vx.view({B, T2, num_heads_, head_dim_}).transpose(1, 2);
  auto out = scaled_dot_product(qh, kh, vh, scale_, attn_drop_, is_training());
  out = project(proj, out.transpose(1, 2).reshape({B, T1, dim_}));
  if (proj_drop_ > 0.0) out = torch::dropout(out, proj_drop_, is_training());
  return out;
}

}  // namespace dfer::models
