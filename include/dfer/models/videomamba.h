// The VideoMamba video classifier (videomamba.VisionMamba, SPEC-videomamba §2.2) and the later
// reference's variant of it (SPEC-later §d): tubelet embedding, cls token, spatial and temporal
// positions, a stack of bidirectional Mamba blocks over 1 + T'*H'*W' tokens, RMSNorm, head.
#pragma once

#include "dfer/models/classifier.h"
#include "dfer/models/layers.h"
#include "dfer/models/mamba.h"
#include "dfer/models/spec.h"

#include <torch/torch.h>

#include <utility>
#include <vector>

namespace dfer::models {

// The blocks' options a spec implies (dt_rank "auto": ceil(embed_dim / 16)).
MambaOptions mamba_options(const ModelSpec& spec);

// spec.backbone == "videomamba". Two flavours, by spec fields:
//  - upstream VideoMamba (mamba_learned_pos, !use_mean_pooling): a learned `pos_embed`
//    (1, 1+H'W', D), the features are norm_f(...)[:, 0] (the cls token);
//  - the later reference's ViM (!mamba_learned_pos, use_mean_pooling): the fixed sinusoid table
//    (1+H'W', D) in place of pos_embed (not a parameter: not saved), the features are
//    norm_f(mean of the non-cls tokens of norm_f(...)) (its fc_norm is norm_f itself), or per
//    frame with keep_temporal_dim.
// Tokens: cls first, then the patches in (t, h, w) raster order; the same spatial table is added
// in every frame and temporal_pos_embedding (1, T', D) in every spatial position (cls gets none).
class VisionMambaImpl : public ClipClassifierImpl {
 public:
  explicit VisionMambaImpl(const ModelSpec& spec);

  // video (B, C, T, H, W) -> logits (B, num_classes), or (B, num_frames, num_classes) with
  // keep_temporal_dim. `taps` receives patch_embed_out (B, D, T', H', W'), layers_in,
  // layer{i}_hidden, layer{i}_residual (the pair block i returns) and features.
  torch::Tensor forward(const torch::Tensor& video, Taps* taps = nullptr) override;
  std::pair<torch::Tensor, torch::Tensor> forward_with_features(const torch::Tensor& video,
                                                                Taps* taps = nullptr) override;
  torch::Tensor forward_features(const torch::Tensor& video, Taps* taps = nullptr);

  // The upstream initialisation order (SPEC-videomamba §2.4): Mamba's own init, then every Linear
  // trunc-normal(0.02) with zero bias (so dt_proj.bias ends 0), pos_embed trunc-normal(0.02),
  // out_proj kaiming-uniform(a=sqrt 5) / sqrt(depth); cls and temporal tables zero.
  void reset_parameters();

  const ModelSpec& spec() const override { return spec_; }
  // The spatial position table in use (1, 1+H'W', D): pos_embed or the fixed sinusoid table.
  torch::Tensor spatial_pos() const;

  PatchEmbed patch_embed{nullptr};
  torch::Tensor cls_token, pos_embed, temporal_pos_embedding;  // pos_embed: learned flavour only
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm_f{nullptr};
  torch::nn::Linear head{nullptr};         // undefined when num_classes == 0 or named heads
  torch::nn::ModuleDict heads{nullptr};    // registered as "head" when spec.heads is not empty
  torch::nn::Sequential decoder{nullptr};  // spec.decoder_hidden > 0

 private:
  torch::Tensor per_frame(const torch::Tensor& patch_tokens);

  ModelSpec spec_;
  std::vector<MambaBlock> blocks_;
  std::vector<torch::nn::Linear> named_heads_;  // the entries of `heads`, in spec order
  torch::Tensor sinusoid_;                      // fork flavour: (1, 1+H'W', D) float32 CPU
  torch::Tensor sinusoid_device_;
};
TORCH_MODULE(VisionMamba);

}  // namespace dfer::models
