// ViT Block and LGI-Former LGBlock (see dfer/models/blocks.h; SPEC §1.5, §1.7).
#include "dfer/models/blocks.h"

#include "dfer/util/error.h"

#include <fmt/format.h>

namespace dfer::models {

namespace {

GeneralAttention make_general_attention(const BlockOptions& b) {
  return GeneralAttention(b.dim, b.num_heads, b.qkv_bias, b.attn_drop, b.drop);
}

int64_t hidden_dim(const BlockOptions& b) {
  return static_cast<int64_t>(static_cast<double>(b.dim) * b.mlp_ratio);
}

}  // namespace

BlockImpl::BlockImpl(const BlockOptions& o) : drop_path_(o.drop_path) {
  if (o.init_values > 0.0) {
    gamma_1 = register_parameter("gamma_1", torch::full({o.dim}, o.init_values));
    gamma_2 = register_parameter("gamma_2", torch::full({o.dim}, o.init_values));
  }
  norm1 = register_module("norm1", make_layer_norm(o.dim, o.norm_eps));
  attn = register_module("attn", Attention(o.dim, o.num_heads, o.qkv_bias, o.attn_drop, o.drop));
  norm2 = register_module("norm2", make_layer_norm(o.dim, o.norm_eps));
  mlp = register_module("mlp", Mlp(o.dim, hidden_dim(o), o.drop));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x) {
  const bool train = is_training();
  auto a = attn(norm1(x));
  if (gamma_1.defined()) a = a * gamma_1;
  auto h = x + drop_path(a, drop_path_, train);
  auto m = mlp(norm2(h));
  if (gamma_2.defined()) m = m * gamma_2;
  return h + drop_path(m, drop_path_, train);
}

LGBlockImpl::LGBlockImpl(const LGBlockOptions& o) : o_(o) {
  const auto& b = o.base;
  if (b.init_values > 0.0)
    throw UsageError("LGBlock: layer scale (init_values > 0) is not implemented (as upstream)");
  // Registration order = upstream attribute order, which fixes the state-dict key order.
  first_attn_norm0 = register_module("first_attn_norm0", make_layer_norm(b.dim, b.norm_eps));
  if (o.first_attn_cross)
    first_attn_norm1 = register_module("first_attn_norm1", make_layer_norm(b.dim, b.norm_eps));
  first_attn = register_module("first_attn", make_general_attention(b));
  if (!o.no_second) {
    second_attn_norm0 = register_module("second_attn_norm0", make_layer_norm(b.dim, b.norm_eps));
    second_attn =
        register_module("second_attn", o.share_all ? first_attn : make_general_attention(b));
  }
  if (!o.no_third) {
    third_attn_norm0 = register_module("third_attn_norm0", make_layer_norm(b.dim, b.norm_eps));
    if (!o.third_attn_self)
      third_attn_norm1 = register_module("third_attn_norm1", make_layer_norm(b.dim, b.norm_eps));
    third_attn = register_module("third_attn", (o.share_first_third || o.share_all)
                                                   ? first_attn
                                                   : make_general_attention(b));
  }
  norm2 = register_module("norm2", make_layer_norm(b.dim, b.norm_eps));
  mlp = register_module("mlp", Mlp(b.dim, hidden_dim(b), b.drop));
}

torch::Tensor LGBlockImpl::forward(const torch::Tensor& x, int64_t batch) {
  const int64_t BM = x.size(0), S = x.size(1), C = x.size(2);
  if (batch <= 0 || BM % batch != 0 || S < 2)
    throw Error(fmt::format("LGBlock: input {} is not (batch {} x regions, 1 + tokens, C)",
                            shape_str(x.sizes()), batch));
  const int64_t M = BM / batch;
  const bool train = is_training();
  const double p = o_.base.drop_path;
  torch::Tensor h = x;

  // S1: local intra-region attention. DropPath rows are (sample, region) pairs.
  if (!o_.first_attn_cross) {
    h = h + drop_path(first_attn(first_attn_norm0(h)), p, train);
  } else {
    auto r = h.narrow(1, 0, 1), l = h.narrow(1, 1, S - 1);
    r = r + drop_path(first_attn(first_attn_norm0(r), first_attn_norm1(l)), p, train);
    h = torch::cat({r, l}, 1);
  }

  // S2: global attention among the M region tokens of each clip (DropPath per clip).
  auto regions = h.select(1, 0).reshape({batch, M, C});
  bool regions_changed = false;
  if (!o_.no_second) {
    regions = regions + drop_path(second_attn(second_attn_norm0(regions)), p, train);
    regions_changed = true;
  }

  // S3: local-global interaction.
  if (!o_.no_third && o_.third_attn_self) {
    if (regions_changed) h = torch::cat({regions.reshape({BM, 1, C}), h.narrow(1, 1, S - 1)}, 1);
    h = h + drop_path(third_attn(third_attn_norm0(h)), p, train);
  } else if (!o_.no_third) {
    // All local tokens of a clip, region-major, query the (updated) region tokens.
    auto locals = h.narrow(1, 1, S - 1).reshape({batch, M * (S - 1), C});
    locals = locals +
             drop_path(third_attn(third_attn_norm0(locals), third_attn_norm1(regions)), p, train);
    h = torch::cat({regions.reshape({BM, 1, C}), locals.view({BM, S - 1, C})}, 1);
  } else if (regions_changed) {
    h = torch::cat({regions.reshape({BM, 1, C}), h.narrow(1, 1, S - 1)}, 1);
  }

  // FFN on every token (DropPath rows are (sample, region) pairs again).
  return h + drop_path(mlp(norm2(h)), p, train);
}

}  // namespace dfer::models
