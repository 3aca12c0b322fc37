// The MAE pre-train model (modeling_pretrain.PretrainVisionTransformer): an encoder over the
// visible tokens (LGI-Former or ViT), `encoder_to_decoder`, `mask_token`, and a small ViT decoder
// that predicts the pixels of the masked tokens (SPEC §2.2-2.3).
#pragma once

#include "dfer/models/blocks.h"
#include "dfer/models/layers.h"
#include "dfer/models/masked_model.h"
#include "dfer/models/spec.h"

#include <torch/torch.h>

#include <vector>

namespace dfer::models {

// Encoder (prefix `encoder.`): lg_region_tokens, patch_embed, blocks, norm.
class PretrainEncoderImpl : public torch::nn::Module {
 public:
  explicit PretrainEncoderImpl(const ModelSpec& spec);

  // video (B, C, T, H, W); mask (B, N) bool, true = masked, the same number of visible tokens in
  // every row -> visible tokens after `norm` (B, N_vis, C). With local_global attention the
  // tokens come out region-major (nt, nh*nw, t, hw), as upstream. Taps: patch_embed_out,
  // encoder_pos_embed, encoder_blocks_in, encoder_block{i}_out, encoder_out.
  torch::Tensor forward(const torch::Tensor& video, const torch::Tensor& mask,
                        Taps* taps = nullptr);

  // Reorders a region-major encoder output (B, N_vis, C) to raster order (identity for joint).
  torch::Tensor to_raster_order(const torch::Tensor& x) const;

  void reset_parameters();
  const torch::Tensor& pos_embed() const { return pos_embed_; }

  torch::Tensor lg_region_tokens;
  PatchEmbed patch_embed{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};

 private:
  // (nt, t, nh*nw, hw) for n_visible tokens: upstream's hw = int(h*w * n_visible / N).
  std::array<int64_t, 4> visible_layout(int64_t n_visible) const;

  ModelSpec spec_;
  bool local_global_;
  torch::Tensor pos_embed_, pos_device_;
  std::vector<Block> vit_blocks_;
  std::vector<LGBlock> lg_blocks_;
};
TORCH_MODULE(PretrainEncoder);

// Decoder (prefix `decoder.`): ViT blocks, norm, head (pixels per token).
class PretrainDecoderImpl : public torch::nn::Module {
 public:
  explicit PretrainDecoderImpl(const ModelSpec& spec);
  // x (B, N, Cd) -> head(norm(x[:, -return_token_num:])) (all tokens when return_token_num == 0).
  torch::Tensor forward(const torch::Tensor& x, int64_t return_token_num);
  void reset_parameters();

  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr};

 private:
  std::vector<Block> blocks_;
};
TORCH_MODULE(PretrainDecoder);

class PretrainVisionTransformerImpl : public MaskedVideoModelImpl {
 public:
  explicit PretrainVisionTransformerImpl(const ModelSpec& spec);

  // video (B, C, T, H, W), mask (B, N) bool (true = masked) -> predictions for the masked tokens
  // in ascending token order (B, N_masked, in_chans*tubelet*patch^2). Taps: the encoder's plus
  // decoder_pos_embed and decoder_in.
  torch::Tensor forward(const torch::Tensor& video, const torch::Tensor& mask,
                        Taps* taps = nullptr) override;

  // Re-runs the upstream pre-train initialisation (SPEC §8.4); the constructor already does.
  void reset_parameters();

  const ModelSpec& spec() const override { return spec_; }
  const torch::Tensor& decoder_pos_embed() const { return pos_embed_; }

  torch::Tensor mask_token;  // (1, 1, Cd)
  PretrainEncoder encoder{nullptr};
  PretrainDecoder decoder{nullptr};
  torch::nn::Linear encoder_to_decoder{nullptr};

 private:
  ModelSpec spec_;
  torch::Tensor pos_embed_, pos_device_;
};
TORCH_MODULE(PretrainVisionTransformer);

// Checks a (B, N) mask and returns it as bool; throws naming the problem (wrong shape, rows with
// different visible counts).
torch::Tensor check_token_mask(const torch::Tensor& mask, int64_t batch, int64_t num_patches);

}  // namespace dfer::models
