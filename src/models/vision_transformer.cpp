// Fine-tune VisionTransformer / LGI-Former (see dfer/models/vision_transformer.h; SPEC §1).
#include "dfer/models/vision_transformer.h"

#include "dfer/models/lora.h"
#include "dfer/util/error.h"

#include <fmt/format.h>

namespace dfer::models {

ClassifyTokens parse_classify_tokens(const std::string& s) {
  if (s == "org") return ClassifyTokens::kOrg;
  if (s == "region") return ClassifyTokens::kRegion;
  if (s == "all") return ClassifyTokens::kAll;
  throw UsageError(fmt::format("lg_classify_token_type '{}' is not one of org, region, all", s));
}

torch::Tensor partition_regions(const torch::Tensor& x, const std::array<int64_t, 3>& grid,
                                const std::array<int64_t, 3>& region) {
  const int64_t B = x.size(0), C = x.size(2);
  const int64_t nt = grid[0] / region[0], nh = grid[1] / region[1], nw = grid[2] / region[2];
  const auto [t, h, w] = region;
  if (x.size(1) != nt * t * nh * h * nw * w)
    throw Error(fmt::format("region partition: {} tokens do not form {} regions of {}x{}x{}",
                            x.size(1), nt * nh * nw, t, h, w));
  return x.view({B, nt, t, nh, h, nw, w, C})
      .permute({0, 1, 3, 5, 2, 4, 6, 7})
      .reshape({B, nt * nh * nw, t * h * w, C});
}

torch::Tensor merge_regions(const torch::Tensor& x, const std::array<int64_t, 3>& grid,
                            const std::array<int64_t, 3>& region) {
  const int64_t B = x.size(0), C = x.size(3);
  const int64_t nt = grid[0] / region[0], nh = grid[1] / region[1], nw = grid[2] / region[2];
  const auto [t, h, w] = region;
  return x.reshape({B, nt, nh, nw, t, h, w, C})
      .permute({0, 1, 4, 2, 5, 3, 6, 7})
      .reshape({B, nt * t * nh * h * nw * w, C});
}

std::vector<torch::Tensor> split_heads(const ModelSpec& spec, const torch::Tensor& output) {
  if (spec.heads.empty()) return {output};
  std::vector<torch::Tensor> out;
  int64_t at = 0;
  for (const auto& h : spec.heads) {
    out.push_back(output.narrow(-1, at, h.second));
    at += h.second;
  }
  return out;
}

std::vector<double> drop_path_schedule(double rate, int64_t depth) {
  // Upstream: [x.item() for x in torch.linspace(0, rate, depth)] (float32 values).
  std::vector<double> out;
  if (depth <= 0) return out;
  auto ls = torch::linspace(0.0, rate, depth, torch::kFloat32);
  for (int64_t i = 0; i < depth; ++i) out.push_back(ls[i].item<double>());
  return out;
}

LGBlockOptions lg_block_options(const ModelSpec& s, double drop_path) {
  LGBlockOptions o;
  o.base.dim = s.embed_dim;
  o.base.num_heads = s.num_heads;
  o.base.mlp_ratio = s.mlp_ratio;
  o.base.qkv_bias = s.qkv_bias;
  o.base.drop = s.drop_rate;
  o.base.attn_drop = s.attn_drop_rate;
  o.base.drop_path = drop_path;
  o.base.init_values = s.init_values;
  o.base.norm_eps = s.norm_eps;
  o.first_attn_cross = s.lg_first_attn_type == "cross";
  o.third_attn_self = s.lg_third_attn_type == "self";
  o.share_first_third = s.lg_attn_param_sharing_first_third;
  o.share_all = s.lg_attn_param_sharing_all;
  o.no_second = s.lg_no_second;
  o.no_third = s.lg_no_third;
  return o;
}

VisionTransformerImpl::VisionTransformerImpl(const ModelSpec& spec)
    : spec_(spec), local_global_(spec.attn_type == "local_global") {
  validate(spec_);
  const auto& s = spec_;
  patch_embed = register_module(
      "patch_embed",
      PatchEmbed(s.img_size, s.patch_size, s.in_chans, s.embed_dim, s.num_frames, s.tubelet_size));
  pos_embed_ = sinusoid_table(s.num_patches(), s.embed_dim);

  auto dpr = drop_path_schedule(s.drop_path_rate, s.depth);
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < s.depth; ++i) {
    if (local_global_) {
      lg_blocks_.emplace_back(lg_block_options(s, dpr[i]));
      blocks->push_back(lg_blocks_.back());
    } else {
      BlockOptions b = lg_block_options(s, dpr[i]).base;
      vit_blocks_.emplace_back(b);
      blocks->push_back(vit_blocks_.back());
    }
  }
  if (local_global_) {
    lg_region_tokens =
        register_parameter("lg_region_tokens", torch::zeros({s.num_regions(), s.embed_dim}));
    classify_ = parse_classify_tokens(s.lg_classify_token_type);
  }
  if (s.use_mean_pooling)
    fc_norm = register_module("fc_norm", make_layer_norm(s.embed_dim, s.norm_eps));
  else
    norm = register_module("norm", make_layer_norm(s.embed_dim, s.norm_eps));
  if (s.decoder_hidden > 0)
    decoder = register_module(
        "decoder",
        torch::nn::Sequential(torch::nn::Linear(s.embed_dim, s.decoder_hidden), torch::nn::ReLU(),
                              torch::nn::Linear(s.decoder_hidden, s.embed_dim), torch::nn::ReLU()));
  if (!s.heads.empty()) {
    heads = torch::nn::ModuleDict();
    for (const auto& [name, n] : s.heads) {
      named_heads_.emplace_back(s.embed_dim, n);
      heads->update({{name, named_heads_.back().ptr()}});
    }
    register_module("head", heads);
  } else if (s.num_classes > 0) {
    head = register_module("head", torch::nn::Linear(s.embed_dim, s.num_classes));
  }
  reset_parameters();
  // Adapters last: their A gets its own init and B stays zero whatever reset_parameters does.
  if (s.lora_rank > 0) add_lora_to_attention(*this, LoraOptions{s.lora_rank, s.lora_alpha});
}

void VisionTransformerImpl::reset_parameters() {
  torch::NoGradGuard guard;
  patch_embed->proj->reset_parameters();  // PyTorch default init: upstream never touches it
  if (lg_region_tokens.defined()) trunc_normal_(lg_region_tokens, 0.02);
  init_linear_and_norm(*this, /*xavier=*/false);
  if (head) {
    head->weight.mul_(spec_.init_scale);
    head->bias.mul_(spec_.init_scale);
  }
  // The later reference creates the named heads and the decoder after the model, with PyTorch's
  // default Linear init and no init scale.
  auto default_init = [](torch::nn::Module& m) {
    for (auto& sub : m.modules(/*include_self=*/true))
      if (auto* lin = sub->as<torch::nn::Linear>()) lin->reset_parameters();
  };
  if (heads) default_init(*heads);
  if (decoder) default_init(*decoder);
}

torch::Tensor VisionTransformerImpl::per_frame_features(const torch::Tensor& raster) {
  // (B, T'*H'*W', C) -> mean over space per temporal patch (B, T', C) -> linear interpolation to
  // the frame rate (B, T' * tubelet, C), as the reference's F.interpolate(scale_factor=tubelet,
  // mode='linear') with align_corners False.
  const auto g = spec_.token_grid();
  const int64_t B = raster.size(0), C = raster.size(2);
  auto per_t = raster.view({B, g[0], g[1] * g[2], C}).mean(2).transpose(1, 2);  // (B, C, T')
  namespace F = torch::nn::functional;
  auto up = F::interpolate(per_t, F::InterpolateFuncOptions()
                                      .scale_factor(std::vector<double>{double(spec_.tubelet_size)})
                                      .mode(torch::kLinear)
                                      .align_corners(false));
  return up.transpose(1, 2);  // (B, T, C)
}

torch::Tensor VisionTransformerImpl::forward_features(const torch::Tensor& video, Taps* taps) {
  auto x = to_dtype_of(patch_embed(video), patch_embed->proj->weight);
  tap(taps, "patch_embed_out", x);
  tap(taps, "pos_embed", pos_embed_);
  if (!pos_device_.defined() || pos_device_.device() != x.device())
    pos_device_ = pos_embed_.to(x.device());
  x = x + pos_device_.to(x.scalar_type());
  if (spec_.drop_rate > 0.0) x = torch::dropout(x, spec_.drop_rate, is_training());

  const int64_t B = x.size(0), C = x.size(2);
  torch::Tensor pooled;  // (B, C) mean, or the token 0 that `norm` sees
  if (local_global_) {
    auto regions = partition_regions(x, spec_.token_grid(), spec_.lg_region_size);
    const int64_t M = regions.size(1), S = regions.size(2) + 1;
    auto rt = lg_region_tokens.to(x.scalar_type()).view({1, M, 1, C}).expand({B, M, 1, C});
    x = torch::cat({rt, regions}, 2).view({B * M, S, C});
    tap(taps, "blocks_in", x);
    for (size_t i = 0; i < lg_blocks_.size(); ++i) {
      x = lg_blocks_[i]->forward(x, B);
      tap(taps, fmt::format("block{}_out", i), x);
    }
    auto x4 = x.view({B, M, S, C});
    if (spec_.keep_temporal_dim) {  // validate(): org pooling with mean pooling
      pooled = per_frame_features(
          merge_regions(x4.narrow(2, 1, S - 1), spec_.token_grid(), spec_.lg_region_size));
    } else if (spec_.use_mean_pooling) {
      switch (classify_) {
        case ClassifyTokens::kRegion:
          pooled = x4.select(2, 0).mean(1);
          break;
        case ClassifyTokens::kOrg:
          pooled = x4.narrow(2, 1, S - 1).mean({1, 2});
          break;
        case ClassifyTokens::kAll:
          pooled = x4.mean({1, 2});
          break;
      }
    } else {
      // Token 0 of the selected sequence: the first region token, or the first local token.
      pooled = x4.select(1, 0).select(1, classify_ == ClassifyTokens::kOrg ? 1 : 0);
    }
  } else {
    tap(taps, "blocks_in", x);
    for (size_t i = 0; i < vit_blocks_.size(); ++i) {
      x = vit_blocks_[i]->forward(x);
      tap(taps, fmt::format("block{}_out", i), x);
    }
    pooled = spec_.keep_temporal_dim  ? per_frame_features(x)
             : spec_.use_mean_pooling ? x.mean(1)
                                      : x.select(1, 0);
  }
  // LayerNorm is per token, so norm(x)[:, 0] == norm(x[:, 0]).
  auto features = spec_.use_mean_pooling ? fc_norm(pooled) : norm(pooled);
  tap(taps, "features", features);
  return features;
}

torch::Tensor VisionTransformerImpl::apply_head(const torch::Tensor& pooled_features) {
  const auto features = decoder ? decoder->forward(pooled_features) : pooled_features;
  if (heads) {
    // Named heads: no activation, as the reference returns its dict before it.
    std::vector<torch::Tensor> outs;
    for (auto& h : named_heads_) outs.push_back(h->forward(features));
    return torch::cat(outs, -1);
  }
  auto y = head ? head->forward(features) : features;
  const auto& act = spec_.head_activation;
  if (act == "sigmoid") return torch::sigmoid(y);
  if (act == "relu") return torch::relu(y);
  if (act == "tanh") return torch::tanh(y);
  return y;
}

std::pair<torch::Tensor, torch::Tensor> VisionTransformerImpl::forward_with_features(
    const torch::Tensor& video, Taps* taps) {
  auto features = forward_features(video, taps);
  return {apply_head(features), features};
}

torch::Tensor VisionTransformerImpl::forward(const torch::Tensor& video, Taps* taps) {
  return apply_head(forward_features(video, taps));
}

}  // namespace dfer::models
