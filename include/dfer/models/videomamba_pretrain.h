// Masked pre-training with the VideoMamba encoder (the later reference's ViM_pretrain.py,
// SPEC-later d; SPEC-videomamba 2.5): the encoder runs on the visible tokens only, in raster
// order, and a bidirectional-Mamba pixel decoder predicts the masked tokens, VideoMAE style.
#pragma once

#include "dfer/models/layers.h"
#include "dfer/models/mamba.h"
#include "dfer/models/masked_model.h"
#include "dfer/models/spec.h"

#include <torch/torch.h>

#include <vector>

namespace dfer::models {

// spec.backbone == "videomamba", spec.kind == kPretrain.
//
// Encoder, with the fine-tune VisionMamba's names at the top level so that a checkpoint loads into
// it by name: patch_embed.proj, cls_token, pos_embed (learned flavour only; else the fixed
// sinusoid table), temporal_pos_embedding, layers.i.{norm, mixer.*}, norm_f. The token sequence
// is the fine-tune one, cls first then (t, h, w) raster; the mask gets a leading true for cls, so
// cls never enters the encoder and the visible patch tokens keep their raster order (a Mamba scan
// depends on it). cls_token is kept for the names only and does not require a gradient (it could
// never receive one); it stays at its zero init and loads as such.
//
// Decoder: decoder_embed Linear(D -> Dd), mask_token (1, 1, Dd); the full 1 + N sequence holds
// the embedded visible tokens at their positions and mask_token everywhere else (cls included),
// plus a fixed sinusoid table (1 + N, Dd); decoder_blocks.i bidirectional Mamba blocks (fp32
// residual stream, no drop path), decoder_norm LayerNorm(Dd) over the final residual sum,
// decoder_pred Linear(Dd -> in_chans * tubelet * patch^2) at the masked rows, cls dropped.
class PretrainVisionMambaImpl : public MaskedVideoModelImpl {
 public:
  explicit PretrainVisionMambaImpl(const ModelSpec& spec);

  // See MaskedVideoModelImpl::forward. Taps: patch_embed_out, encoder_in (the visible tokens
  // entering layer 0), encoder_out (after norm_f), decoder_in (with positions), decoder_out
  // (after decoder_norm, all 1 + N rows).
  torch::Tensor forward(const torch::Tensor& video, const torch::Tensor& mask,
                        Taps* taps = nullptr) override;

  // The encoder alone: norm_f over the visible tokens (B, N_vis, D), raster order, no cls.
  torch::Tensor forward_encoder(const torch::Tensor& video, const torch::Tensor& mask,
                                Taps* taps = nullptr);

  // The initialisation of VisionMamba.__init__ applied to the whole model (the decoder is built
  // inside it): Mamba's own init, then every Linear trunc-normal(0.02) with zero bias
  // (decoder_embed, decoder_pred and the decoder's Mamba projections too) and every LayerNorm (1,
  // 0), then each out_proj, encoder and decoder alike, kaiming-uniform(a=sqrt 5) / sqrt(encoder
  // depth); pos_embed and mask_token trunc-normal(0.02); cls and the temporal table zero.
  void reset_parameters();

  const ModelSpec& spec() const override { return spec_; }

  PatchEmbed patch_embed{nullptr};
  torch::Tensor cls_token, pos_embed, temporal_pos_embedding;  // pos_embed: learned flavour only
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm_f{nullptr};
  torch::nn::Linear decoder_embed{nullptr};
  torch::Tensor mask_token;  // (1, 1, Dd)
  torch::nn::ModuleList decoder_blocks{nullptr};
  torch::nn::LayerNorm decoder_norm{nullptr};
  torch::nn::Linear decoder_pred{nullptr};

 private:
  const torch::Tensor& on_device(const torch::Tensor& table, torch::Tensor& cache,
                                 const torch::Device& device);

  ModelSpec spec_;
  std::vector<MambaBlock> blocks_, decoder_blocks_;
  torch::Tensor sinusoid_, sinusoid_device_;        // encoder spatial table (1, 1+H'W', D)
  torch::Tensor decoder_pos_, decoder_pos_device_;  // (1, 1+N, Dd)
};
TORCH_MODULE(PretrainVisionMamba);

}  // namespace dfer::models
