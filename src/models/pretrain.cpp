// MAE pre-train encoder/decoder (see dfer/models/pretrain.h; SPEC §2.2-2.3, §8.1, §8.4).
#include "dfer/models/pretrain.h"

#include "dfer/models/vision_transformer.h"
#include "dfer/util/error.h"

#include <fmt/format.h>

namespace dfer::models {

namespace {

const torch::Tensor& on_device(const torch::Tensor& table, torch::Tensor& cache,
                               const torch::Device& device) {
  if (!cache.defined() || cache.device() != device) cache = table.to(device);
  return cache;
}

}  // namespace

torch::Tensor check_token_mask(const torch::Tensor& mask, int64_t batch, int64_t num_patches) {
  if (!mask.defined() || mask.dim() != 2 || mask.size(0) != batch || mask.size(1) != num_patches)
    throw Error(fmt::format("token mask: shape {} does not match (batch {}, tokens {})",
                            mask.defined() ? shape_str(mask.sizes()) : "undefined", batch,
                            num_patches));
  auto m = mask.scalar_type() == torch::kBool ? mask : mask.to(torch::kBool);
  auto counts = m.sum(1);
  if (batch > 0 && (counts != counts[0]).any().item<bool>())
    throw Error("token mask: every sample must have the same number of masked tokens");
  return m;
}

PretrainEncoderImpl::PretrainEncoderImpl(const ModelSpec& spec)
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
    auto o = lg_block_options(s, dpr[i]);
    if (local_global_) {
      lg_blocks_.emplace_back(o);
      blocks->push_back(lg_blocks_.back());
    } else {
      vit_blocks_.emplace_back(o.base);
      blocks->push_back(vit_blocks_.back());
    }
  }
  if (local_global_)
    lg_region_tokens =
        register_parameter("lg_region_tokens", torch::zeros({s.num_regions(), s.embed_dim}));
  norm = register_module("norm", make_layer_norm(s.embed_dim, s.norm_eps));
  reset_parameters();
}

void PretrainEncoderImpl::reset_parameters() {
  torch::NoGradGuard guard;
  patch_embed->proj->reset_parameters();
  // The pre-train module truncates at +-1 sigma (SPEC §8.4).
  if (lg_region_tokens.defined()) trunc_normal_(lg_region_tokens, 0.02, -0.02, 0.02);
  init_linear_and_norm(*this, /*xavier=*/true);
}

std::array<int64_t, 4> PretrainEncoderImpl::visible_layout(int64_t n_visible) const {
  const auto grid = spec_.token_grid();
  const auto nr = spec_.lg_num_regions();
  const int64_t nt = nr[0], t = spec_.lg_region_size[0], nhw = nr[1] * nr[2];
  // Upstream: int(h * w * (N_vis / N)) in floating point.
  const double ratio = static_cast<double>(n_visible) / static_cast<double>(spec_.num_patches());
  const auto hw = static_cast<int64_t>(
      static_cast<double>(spec_.lg_region_size[1] * spec_.lg_region_size[2]) * ratio);
  if (nt * t * nhw * hw != n_visible)
    throw Error(fmt::format(
        "pre-train encoder: {} visible tokens cannot be grouped into {} regions of {} frames x {} "
        "tokens (token grid {}x{}x{}); LGI pre-training needs the part_window mask with the "
        "region size as window",
        n_visible, nt * nhw, t, hw, grid[0], grid[1], grid[2]));
  return {nt, t, nhw, hw};
}

torch::Tensor PretrainEncoderImpl::to_raster_order(const torch::Tensor& x) const {
  if (!local_global_) return x;
  const auto [nt, t, nhw, hw] = visible_layout(x.size(1));
  return x.view({x.size(0), nt, nhw, t, hw, x.size(2)})
      .permute({0, 1, 3, 2, 4, 5})
      .reshape(x.sizes());
}

torch::Tensor PretrainEncoderImpl::forward(const torch::Tensor& video, const torch::Tensor& mask,
                                           Taps* taps) {
  auto x = to_dtype_of(patch_embed(video), patch_embed->proj->weight);
  tap(taps, "patch_embed_out", x);
  tap(taps, "encoder_pos_embed", pos_embed_);
  x = x + on_device(pos_embed_, pos_device_, x.device()).to(x.scalar_type());
  const int64_t B = x.size(0), N = x.size(1), C = x.size(2);
  auto m = check_token_mask(mask, B, N);
  auto visible = m.logical_not();
  const int64_t n_vis = B > 0 ? visible[0].sum().item<int64_t>() : 0;
  auto xv = x.index({visible}).view({B, n_vis, C});

  if (local_global_) {
    const auto [nt, t, nhw, hw] = visible_layout(n_vis);
    const int64_t M = nt * nhw, S = 1 + t * hw;
    // 'b (nt t nhw hw) c -> b (nt nhw) (t hw) c', region tokens prepended.
    auto regions =
        xv.view({B, nt, t, nhw, hw, C}).permute({0, 1, 3, 2, 4, 5}).reshape({B, M, t * hw, C});
    auto rt = lg_region_tokens.to(x.scalar_type()).view({1, M, 1, C}).expand({B, M, 1, C});
    xv = torch::cat({rt, regions}, 2).view({B * M, S, C});
    tap(taps, "encoder_blocks_in", xv);
    for (size_t i = 0; i < lg_blocks_.size(); ++i) {
      xv = lg_blocks_[i]->forward(xv, B);
      tap(taps, fmt::format("encoder_block{}_out", i), xv);
    }
    // Drop the region tokens; the rest stays region-major (SPEC §8.1).
    xv = xv.narrow(1, 1, S - 1).reshape({B, M * (S - 1), C});
  } else {
    tap(taps, "encoder_blocks_in", xv);
    for (size_t i = 0; i < vit_blocks_.size(); ++i) {
      xv = vit_blocks_[i]->forward(xv);
      tap(taps, fmt::format("encoder_block{}_out", i), xv);
    }
  }
  xv = norm(xv);
  tap(taps, "encoder_out", xv);
  return xv;
}

PretrainDecoderImpl::PretrainDecoderImpl(const ModelSpec& s) {
  auto dpr = drop_path_schedule(s.drop_path_rate, s.decoder_depth);
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < s.decoder_depth; ++i) {
    BlockOptions o;
    o.dim = s.decoder_embed_dim;
    o.num_heads = s.decoder_num_heads;
    o.mlp_ratio = s.mlp_ratio;
    o.qkv_bias = s.qkv_bias;
    o.drop = s.drop_rate;
    o.attn_drop = s.attn_drop_rate;
    o.drop_path = dpr[i];
    o.init_values = s.init_values;
    o.norm_eps = s.norm_eps;
    blocks_.emplace_back(o);
    blocks->push_back(blocks_.back());
  }
  norm = register_module("norm", make_layer_norm(s.decoder_embed_dim, s.norm_eps));
  head = register_module("head", torch::nn::Linear(s.decoder_embed_dim, s.decoder_num_classes()));
  reset_parameters();
}

void PretrainDecoderImpl::reset_parameters() {
  init_linear_and_norm(*this, /*xavier=*/true);
}

torch::Tensor PretrainDecoderImpl::forward(const torch::Tensor& x_in, int64_t return_token_num) {
  auto x = x_in;
  for (auto& b : blocks_) x = b->forward(x);
  if (return_token_num > 0) x = x.narrow(1, x.size(1) - return_token_num, return_token_num);
  return linear(head, norm(x));
}

PretrainVisionTransformerImpl::PretrainVisionTransformerImpl(const ModelSpec& spec) : spec_(spec) {
  validate(spec_);
  encoder = register_module("encoder", PretrainEncoder(spec_));
  decoder = register_module("decoder", PretrainDecoder(spec_));
  encoder_to_decoder = register_module(
      "encoder_to_decoder",
      torch::nn::Linear(
          torch::nn::LinearOptions(spec_.embed_dim, spec_.decoder_embed_dim).bias(false)));
  mask_token = register_parameter("mask_token", torch::zeros({1, 1, spec_.decoder_embed_dim}));
  pos_embed_ = sinusoid_table(spec_.num_patches(), spec_.decoder_embed_dim);
  torch::NoGradGuard guard;
  trunc_normal_(mask_token, 0.02, -0.02, 0.02);
}

void PretrainVisionTransformerImpl::reset_parameters() {
  torch::NoGradGuard guard;
  encoder->reset_parameters();
  decoder->reset_parameters();
  encoder_to_decoder->reset_parameters();  // upstream never applies its init here: PyTorch default
  trunc_normal_(mask_token, 0.02, -0.02, 0.02);
}

torch::Tensor PretrainVisionTransformerImpl::forward(const torch::Tensor& video,
                                                     const torch::Tensor& mask, Taps* taps) {
  auto enc = encoder->forward(video, mask, taps);
  if (spec_.fix_decoder_pos_order) enc = encoder->to_raster_order(enc);
  auto xv = to_dtype_of(linear(encoder_to_decoder, enc), mask_token);
  const int64_t B = xv.size(0), Cd = xv.size(2);
  auto m = check_token_mask(mask, B, spec_.num_patches());
  tap(taps, "decoder_pos_embed", pos_embed_);
  auto pos = on_device(pos_embed_, pos_device_, xv.device())
                 .to(xv.scalar_type())
                 .expand({B, spec_.num_patches(), Cd});
  // Positions of visible and masked tokens, each in ascending (raster) token order. Upstream adds
  // the visible ones to region-major encoder tokens: the SPEC §8.1 quirk, kept unless
  // fix_decoder_pos_order reordered the tokens above.
  auto pos_vis = pos.index({m.logical_not()}).view({B, -1, Cd});
  auto pos_mask = pos.index({m}).view({B, -1, Cd});
  auto x_full = torch::cat({xv + pos_vis, mask_token.to(xv.scalar_type()) + pos_mask}, 1);
  tap(taps, "decoder_in", x_full);
  return decoder(x_full, pos_mask.size(1));
}

}  // namespace dfer::models
