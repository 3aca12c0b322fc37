// The fine-tune model (modeling_finetune.VisionTransformer): tubelet embedding + fixed sinusoid
// positions, then either plain ViT blocks (attn_type "joint") or LGI-Former blocks over region
// partitions (attn_type "local_global"), mean pooling + fc_norm (or norm + token 0), linear head.
#pragma once

#include "dfer/models/blocks.h"
#include "dfer/models/classifier.h"
#include "dfer/models/layers.h"
#include "dfer/models/spec.h"

#include <torch/torch.h>

#include <utility>
#include <vector>

namespace dfer::models {

enum class ClassifyTokens { kOrg, kRegion, kAll };
ClassifyTokens parse_classify_tokens(const std::string& s);  // throws UsageError

// Rearranges raster tokens (B, T'*H'*W', C) into regions (B, M, t*h*w, C):
// 'b (nt t nh h nw w) c -> b (nt nh nw) (t h w) c'. Exposed for tests and the pre-train encoder.
torch::Tensor partition_regions(const torch::Tensor& x, const std::array<int64_t, 3>& grid,
                                const std::array<int64_t, 3>& region);
// The inverse: region-major tokens (B, M, t*h*w, C) back to raster order (B, T'*H'*W', C).
torch::Tensor merge_regions(const torch::Tensor& x, const std::array<int64_t, 3>& grid,
                            const std::array<int64_t, 3>& region);

// The model output split per named head (spec.heads order) along the last dimension; a spec
// without named heads gives the output itself.
std::vector<torch::Tensor> split_heads(const ModelSpec& spec, const torch::Tensor& output);

class VisionTransformerImpl : public ClipClassifierImpl {
 public:
  explicit VisionTransformerImpl(const ModelSpec& spec);

  // video (B, C, T, H, W), ImageNet-normalised -> logits (B, num_outputs) (head activation
  // applied to a single head), or (B, num_frames, num_outputs) with keep_temporal_dim. `taps`
  // (optional) receives patch_embed_out, pos_embed, blocks_in, block{i}_out, features.
  torch::Tensor forward(const torch::Tensor& video, Taps* taps = nullptr) override;

  // Both the logits and the pre-head feature (fc_norm(mean) or norm(token 0)).
  std::pair<torch::Tensor, torch::Tensor> forward_with_features(const torch::Tensor& video,
                                                                Taps* taps = nullptr) override;
  torch::Tensor forward_features(const torch::Tensor& video, Taps* taps = nullptr);

  // Switch the pooled tokens of an LGI-Former at run time (upstream attribute assignment).
  void set_classify_tokens(ClassifyTokens t) { classify_ = t; }
  ClassifyTokens classify_tokens() const { return classify_; }

  // Re-runs the upstream fine-tune initialisation (SPEC §1.8); the constructor already does.
  void reset_parameters();

  const ModelSpec& spec() const override { return spec_; }
  // The fixed position table (1, N, C), float32 CPU (not a parameter or buffer: not saved).
  const torch::Tensor& pos_embed() const { return pos_embed_; }

  // Public submodules, named as upstream.
  torch::Tensor lg_region_tokens;  // (M, C); undefined for "joint"
  PatchEmbed patch_embed{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};      // only without mean pooling
  torch::nn::LayerNorm fc_norm{nullptr};   // only with mean pooling
  torch::nn::Linear head{nullptr};         // undefined when num_classes == 0 or named heads
  torch::nn::ModuleDict heads{nullptr};    // registered as "head" when spec.heads is not empty
  torch::nn::Sequential decoder{nullptr};  // spec.decoder_hidden > 0

 private:
  torch::Tensor apply_head(const torch::Tensor& features);
  torch::Tensor per_frame_features(const torch::Tensor& raster_tokens);

  ModelSpec spec_;
  bool local_global_;
  ClassifyTokens classify_ = ClassifyTokens::kOrg;
  torch::Tensor pos_embed_;
  torch::Tensor pos_device_;  // pos_embed_ on the device of the last input
  std::vector<Block> vit_blocks_;
  std::vector<LGBlock> lg_blocks_;
  std::vector<torch::nn::Linear> named_heads_;  // the entries of `heads`, in spec order
};
TORCH_MODULE(VisionTransformer);

// Options of the LGI blocks a spec implies (shared with the pre-train encoder).
LGBlockOptions lg_block_options(const ModelSpec& spec, double drop_path);
// linspace(0, drop_path_rate, depth), as upstream's stochastic depth decay rule.
std::vector<double> drop_path_schedule(double rate, int64_t depth);

}  // namespace dfer::models
