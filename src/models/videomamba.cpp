// VideoMamba video classifier (see dfer/models/videomamba.h; SPEC-videomamba §2.2).
#include "dfer/models/videomamba.h"

#include "dfer/models/vision_transformer.h"
#include "dfer/util/error.h"

#include <fmt/format.h>

#include <cmath>

namespace dfer::models {

MambaOptions mamba_options(const ModelSpec& s) {
  MambaOptions o;
  o.d_model = s.embed_dim;
  o.d_state = s.d_state;
  o.d_conv = s.d_conv;
  o.expand = s.expand;
  return o;
}

VisionMambaImpl::VisionMambaImpl(const ModelSpec& spec) : spec_(spec) {
  validate(spec_);
  const auto& s = spec_;
  if (s.backbone != "videomamba" || s.kind != ModelKind::kFinetune)
    throw UsageError(fmt::format("model '{}' is not a VideoMamba classifier", s.name));
  patch_embed = register_module(
      "patch_embed",
      PatchEmbed(s.img_size, s.patch_size, s.in_chans, s.embed_dim, s.num_frames, s.tubelet_size));
  const auto g = s.token_grid();
  const int64_t hw = g[1] * g[2];
  cls_token = register_parameter("cls_token", torch::zeros({1, 1, s.embed_dim}));
  if (s.mamba_learned_pos)
    pos_embed = register_parameter("pos_embed", torch::zeros({1, 1 + hw, s.embed_dim}));
  else
    sinusoid_ = sinusoid_table(1 + hw, s.embed_dim);
  temporal_pos_embedding =
      register_parameter("temporal_pos_embedding", torch::zeros({1, g[0], s.embed_dim}));

  // Block i drops with rate linspace(0, rate, depth)[i - 1] (block 0 never): upstream prepends a
  // 0 to the schedule. The final add before norm_f drops with the full rate.
  const auto dpr = drop_path_schedule(s.drop_path_rate, s.depth);
  const auto mo = mamba_options(s);
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < s.depth; ++i) {
    blocks_.emplace_back(mo, i == 0 ? 0.0 : dpr[i - 1], s.norm_eps);
    layers->push_back(blocks_.back());
  }
  norm_f = register_module("norm_f", RMSNorm(s.embed_dim, s.norm_eps));
  // The later reference's task heads replace `head` (combine: reg + cls, L2CS: pitch + yaw) and
  // its optional MLP decoder sits before them, as on the ViT (vision_transformer.cpp).
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
}

void VisionMambaImpl::reset_parameters() {
  torch::NoGradGuard guard;
  patch_embed->proj->reset_parameters();  // PyTorch's default: upstream never touches it
  cls_token.zero_();
  temporal_pos_embedding.zero_();
  for (auto& b : blocks_) {
    b->mixer->reset_parameters();
    b->norm->weight.fill_(1.0);
  }
  norm_f->weight.fill_(1.0);
  // segm_init_weights over every module: all Linears, the Mamba projections included, so the
  // dt_proj bias the Mamba init just set is zeroed again (Δ starts at softplus(0)).
  init_linear_and_norm(*this, /*xavier=*/false);
  if (pos_embed.defined()) trunc_normal_(pos_embed, 0.02);
  // Mamba's _init_weights: GPT-2's residual scaling of the output projection.
  const double scale = 1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(spec_.depth, 1)));
  for (auto& b : blocks_) {
    torch::nn::init::kaiming_uniform_(b->mixer->out_proj->weight, std::sqrt(5.0));
    b->mixer->out_proj->weight.mul_(scale);
  }
  // Task heads and the decoder are created after the model upstream: PyTorch's default init.
  const std::vector<torch::nn::Module*> late = {heads ? heads.get() : nullptr,
                                                decoder ? decoder.get() : nullptr};
  for (torch::nn::Module* m : late) {
    if (!m) continue;
    for (auto& sub : m->modules(/*include_self=*/true))
      if (auto* lin = sub->as<torch::nn::Linear>()) lin->reset_parameters();
  }
}

torch::Tensor VisionMambaImpl::spatial_pos() const {
  return pos_embed.defined() ? pos_embed : sinusoid_;
}

torch::Tensor VisionMambaImpl::per_frame(const torch::Tensor& patch_tokens) {
  // (B, T'*H'*W', D) -> mean over space per temporal patch -> linear interpolation x tubelet in
  // time (align_corners false, as F.interpolate(scale_factor=tubelet, mode='linear')).
  const auto g = spec_.token_grid();
  const int64_t B = patch_tokens.size(0), C = patch_tokens.size(2);
  auto per_t = patch_tokens.reshape({B, g[0], g[1] * g[2], C}).mean(2).transpose(1, 2);
  namespace F = torch::nn::functional;
  auto up = F::interpolate(per_t, F::InterpolateFuncOptions()
                                      .scale_factor(std::vector<double>{double(spec_.tubelet_size)})
                                      .mode(torch::kLinear)
                                      .align_corners(false));
  return up.transpose(1, 2);  // (B, T, C)
}

torch::Tensor VisionMambaImpl::forward_features(const torch::Tensor& video, Taps* taps) {
  const auto g = spec_.token_grid();
  const int64_t hw = g[1] * g[2];
  auto tokens = to_dtype_of(patch_embed(video), patch_embed->proj->weight);  // (B, T'HW, D)
  const int64_t B = tokens.size(0), C = tokens.size(2);
  if (taps)
    tap(taps, "patch_embed_out", tokens.view({B, g[0], g[1], g[2], C}).permute({0, 4, 1, 2, 3}));

  torch::Tensor pos;
  if (pos_embed.defined()) {
    pos = pos_embed;
  } else {
    if (!sinusoid_device_.defined() || sinusoid_device_.device() != tokens.device())
      sinusoid_device_ = sinusoid_.to(tokens.device());
    pos = sinusoid_device_;
  }
  pos = pos.to(tokens.scalar_type());
  // Upstream adds the spatial table per frame (cls row included), then the temporal table per
  // spatial position; only the cls row of one frame survives (all frames' are equal).
  auto cls = (cls_token.to(tokens.scalar_type()) + pos.narrow(1, 0, 1)).expand({B, 1, C});
  auto patches = tokens.view({B, g[0], hw, C}) + pos.narrow(1, 1, hw).view({1, 1, hw, C});
  patches = patches + temporal_pos_embedding.to(tokens.scalar_type()).view({1, g[0], 1, C});
  auto x = torch::cat({cls, patches.view({B, g[0] * hw, C})}, 1);
  if (spec_.drop_rate > 0.0) x = torch::dropout(x, spec_.drop_rate, is_training());
  tap(taps, "layers_in", x);

  torch::Tensor hidden = x, residual;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    std::tie(hidden, residual) = blocks_[i]->forward(hidden, residual);
    tap(taps, fmt::format("layer{}_hidden", i), hidden);
    tap(taps, fmt::format("layer{}_residual", i), residual);
  }
  auto y = norm_f->forward(add_residual(hidden, residual, spec_.drop_path_rate, is_training()),
                           hidden.scalar_type());
  torch::Tensor features;
  if (!spec_.use_mean_pooling) {
    features = y.select(1, 0);
  } else {
    // The later reference pools through `fc_norm`, which is norm_f itself: a second RMSNorm.
    auto rest = y.narrow(1, 1, y.size(1) - 1);
    features = norm_f->forward(spec_.keep_temporal_dim ? per_frame(rest) : rest.mean(1));
  }
  tap(taps, "features", features);
  return features;
}

std::pair<torch::Tensor, torch::Tensor> VisionMambaImpl::forward_with_features(
    const torch::Tensor& video, Taps* taps) {
  auto features = forward_features(video, taps);
  auto y = decoder ? decoder->forward(features) : features;
  if (spec_.fc_drop_rate > 0.0) y = torch::dropout(y, spec_.fc_drop_rate, is_training());
  if (heads) {
    std::vector<torch::Tensor> outs;
    for (auto& h : named_heads_) outs.push_back(h->forward(y));
    return {torch::cat(outs, -1), features};
  }
  return {head ? head(y) : y, features};
}

torch::Tensor VisionMambaImpl::forward(const torch::Tensor& video, Taps* taps) {
  return forward_with_features(video, taps).first;
}

}  // namespace dfer::models
