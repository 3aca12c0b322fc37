// VideoMamba masked pre-training model (see dfer/models/videomamba_pretrain.h).
#include "dfer/models/videomamba_pretrain.h"

#include "dfer/models/pretrain.h"
#include "dfer/models/videomamba.h"
#include "dfer/models/vision_transformer.h"
#include "dfer/util/error.h"

#include <fmt/format.h>

#include <cmath>

namespace dfer::models {

PretrainVisionMambaImpl::PretrainVisionMambaImpl(const ModelSpec& spec) : spec_(spec) {
  validate(spec_);
  const auto& s = spec_;
  if (s.backbone != "videomamba" || s.kind != ModelKind::kPretrain)
    throw UsageError(fmt::format("model '{}' is not a VideoMamba pre-training model", s.name));
  patch_embed = register_module(
      "patch_embed",
      PatchEmbed(s.img_size, s.patch_size, s.in_chans, s.embed_dim, s.num_frames, s.tubelet_size));
  const auto g = s.token_grid();
  const int64_t hw = g[1] * g[2];
  // Registered so the names match the fine-tune model; no gradient can reach it here (cls is
  // always masked), so it is frozen rather than handed to the optimizer with a missing gradient.
  cls_token = register_parameter("cls_token", torch::zeros({1, 1, s.embed_dim}),
                                 /*requires_grad=*/false);
  if (s.mamba_learned_pos)
    pos_embed = register_parameter("pos_embed", torch::zeros({1, 1 + hw, s.embed_dim}));
  else
    sinusoid_ = sinusoid_table(1 + hw, s.embed_dim);
  temporal_pos_embedding =
      register_parameter("temporal_pos_embedding", torch::zeros({1, g[0], s.embed_dim}));

  // The fine-tune model's drop-path schedule: block 0 never drops, block i uses entry i - 1.
  const auto dpr = drop_path_schedule(s.drop_path_rate, s.depth);
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < s.depth; ++i) {
    blocks_.emplace_back(mamba_options(s), i == 0 ? 0.0 : dpr[i - 1], s.norm_eps);
    layers->push_back(blocks_.back());
  }
  norm_f = register_module("norm_f", RMSNorm(s.embed_dim, s.norm_eps));

  const int64_t Dd = s.decoder_embed_dim;
  decoder_embed = register_module("decoder_embed", torch::nn::Linear(s.embed_dim, Dd));
  mask_token = register_parameter("mask_token", torch::zeros({1, 1, Dd}));
  auto dec_opts = mamba_options(s);
  dec_opts.d_model = Dd;
  dec_opts.dt_rank = 0;  // ceil(Dd / 16), as upstream's "auto" for a block of that width
  decoder_blocks = register_module("decoder_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < s.decoder_depth; ++i) {
    decoder_blocks_.emplace_back(dec_opts, /*drop_path=*/0.0, s.norm_eps);
    decoder_blocks->push_back(decoder_blocks_.back());
  }
  decoder_norm = register_module("decoder_norm", make_layer_norm(Dd, s.norm_eps));
  decoder_pred = register_module("decoder_pred", torch::nn::Linear(Dd, s.decoder_num_classes()));
  decoder_pos_ = sinusoid_table(1 + s.num_patches(), Dd);
  reset_parameters();
}

void PretrainVisionMambaImpl::reset_parameters() {
  torch::NoGradGuard guard;
  patch_embed->proj->reset_parameters();
  cls_token.zero_();
  temporal_pos_embedding.zero_();
  for (auto* list : {&blocks_, &decoder_blocks_})
    for (auto& b : *list) {
      b->mixer->reset_parameters();
      b->norm->weight.fill_(1.0);
    }
  norm_f->weight.fill_(1.0);
  // segm_init_weights walks every module of the model, the decoder included.
  init_linear_and_norm(*this, /*xavier=*/false);
  if (pos_embed.defined()) trunc_normal_(pos_embed, 0.02);
  trunc_normal_(mask_token, 0.02);
  // Mamba's _init_weights also walks the whole model with n_layer = the encoder depth.
  const double scale = 1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(spec_.depth, 1)));
  for (auto* list : {&blocks_, &decoder_blocks_})
    for (auto& b : *list) {
      torch::nn::init::kaiming_uniform_(b->mixer->out_proj->weight, std::sqrt(5.0));
      b->mixer->out_proj->weight.mul_(scale);
    }
}

const torch::Tensor& PretrainVisionMambaImpl::on_device(const torch::Tensor& table,
                                                        torch::Tensor& cache,
                                                        const torch::Device& device) {
  if (!cache.defined() || cache.device() != device) cache = table.to(device);
  return cache;
}

torch::Tensor PretrainVisionMambaImpl::forward_encoder(const torch::Tensor& video,
                                                       const torch::Tensor& mask, Taps* taps) {
  const auto g = spec_.token_grid();
  const int64_t hw = g[1] * g[2];
  auto tokens = to_dtype_of(patch_embed(video), patch_embed->proj->weight);  // (B, N, D)
  const int64_t B = tokens.size(0), N = tokens.size(1), C = tokens.size(2);
  tap(taps, "patch_embed_out", tokens);
  auto m = check_token_mask(mask, B, N);
  const int64_t n_vis = B > 0 ? N - m[0].sum().item<int64_t>() : N;
  if (B > 0 && n_vis < 1)
    throw Error("VideoMamba pre-training: the mask leaves no visible token for the encoder");

  auto pos =
      pos_embed.defined() ? pos_embed : on_device(sinusoid_, sinusoid_device_, tokens.device());
  pos = pos.to(tokens.scalar_type());
  // The fine-tune embedding (spatial table per frame, temporal table per position) without the
  // cls row, which the leading true of upstream's mask removes anyway.
  auto patches = tokens.view({B, g[0], hw, C}) + pos.narrow(1, 1, hw).view({1, 1, hw, C});
  patches = patches + temporal_pos_embedding.to(tokens.scalar_type()).view({1, g[0], 1, C});
  // Boolean indexing keeps the row-major order: each sample's visible tokens in raster order.
  auto x = patches.view({B, N, C}).index({m.logical_not()}).view({B, n_vis, C});
  if (spec_.drop_rate > 0.0) x = torch::dropout(x, spec_.drop_rate, is_training());
  tap(taps, "encoder_in", x);

  torch::Tensor hidden = x, residual;
  for (auto& b : blocks_) std::tie(hidden, residual) = b->forward(hidden, residual);
  auto y = norm_f->forward(add_residual(hidden, residual, spec_.drop_path_rate, is_training()),
                           hidden.scalar_type());
  tap(taps, "encoder_out", y);
  return y;
}

torch::Tensor PretrainVisionMambaImpl::forward(const torch::Tensor& video,
                                               const torch::Tensor& mask, Taps* taps) {
  auto enc = forward_encoder(video, mask, taps);
  const int64_t B = enc.size(0), N = spec_.num_patches(), Dd = spec_.decoder_embed_dim;
  auto m = check_token_mask(mask, B, N).to(enc.device());
  auto xv = to_dtype_of(linear(decoder_embed, enc), mask_token);
  // The 1 + N sequence: cls (always "masked") then the tokens in raster order; visible rows take
  // the embedded encoder tokens, every other row the mask token.
  auto full_mask = torch::cat({torch::ones({B, 1}, m.options()), m}, 1);
  auto x =
      mask_token.expand({B, 1 + N, Dd}).index_put({full_mask.logical_not()}, xv.reshape({-1, Dd}));
  x = x + on_device(decoder_pos_, decoder_pos_device_, x.device()).to(x.scalar_type());
  tap(taps, "decoder_in", x);

  torch::Tensor hidden = x, residual;
  for (auto& b : decoder_blocks_) std::tie(hidden, residual) = b->forward(hidden, residual);
  auto y = decoder_norm(add_residual(hidden, residual, 0.0, is_training()));
  tap(taps, "decoder_out", y);
  // Masked rows without the cls row, ascending: the order compute_mae_targets uses.
  const int64_t n_mask = B > 0 ? m[0].sum().item<int64_t>() : 0;
  auto rows = y.narrow(1, 1, N).index({m}).view({B, n_mask, y.size(2)});
  return linear(decoder_pred, rows);
}

}  // namespace dfer::models
