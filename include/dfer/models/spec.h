// ModelSpec: the plain description of every model the suite can build (fine-tune ViT/LGI-Former,
// MAE pre-train model), and the name registry that fills it with the upstream defaults.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dfer::models {

enum class ModelKind {
  kFinetune,  // modeling_finetune.VisionTransformer: clip -> logits
  kPretrain,  // modeling_pretrain.PretrainVisionTransformer: clip + mask -> masked-token pixels
};

// All fields carry the upstream constructor argument names. spec_from_name() returns the defaults
// that `timm.create_model(name)` would use with no keyword arguments (class defaults + the named
// entry point); callers (the config layer, tests) then override fields one by one.
struct ModelSpec {
  std::string name;  // registry name, informational once built
  ModelKind kind = ModelKind::kFinetune;

  // Input and tokenisation.
  int64_t img_size = 224;
  int64_t patch_size = 16;
  int64_t tubelet_size = 2;
  int64_t num_frames = 16;  // `all_frames` (fine-tune); pre-train upstream always builds for 16
  int64_t in_chans = 3;

  // Encoder (the fine-tune model, or the pre-train encoder).
  int64_t num_classes = 1000;  // fine-tune head; 0 = no head (features only)
  int64_t embed_dim = 768;
  int64_t depth = 12;
  int64_t num_heads = 12;
  double mlp_ratio = 4.0;
  bool qkv_bias = false;  // q and v biases (never a k bias)
  double drop_rate = 0.0;
  double attn_drop_rate = 0.0;
  double drop_path_rate = 0.0;
  double init_values = 0.0;  // layer scale; > 0 only supported by the `joint` Block
  double init_scale = 0.0;   // head weight and bias multiplier after init
  double norm_eps = 1e-6;
  bool use_mean_pooling = true;  // true: fc_norm(mean); false: norm + token 0
  std::string head_activation;   // "" (Identity), "sigmoid", "relu", "tanh"
  // Named output heads, as the later reference replaces `head` by a ModuleDict: each is a
  // Linear(embed_dim, n) registered as head.<name> (combine: reg, cls; L2CS: pitch, yaw), PyTorch
  // default init, no activation; forward concatenates their outputs in this order. Empty: one
  // Linear `head` of num_classes outputs.
  std::vector<std::pair<std::string, int64_t>> heads;
  // > 0: `decoder` = Linear(D, hidden)-ReLU-Linear(hidden, D)-ReLU between the pooled feature and
  // the head (the later reference's `training.decoder: mlp`, hidden 512).
  int64_t decoder_hidden = 0;
  // Per-frame outputs (B, num_frames, outputs): the encoder tokens in raster (time, h, w) order
  // are averaged over space per temporal patch, linearly interpolated x tubelet_size in time, then
  // fc_norm and the head per frame. Needs mean pooling; LGI-Former needs "org" pooling. Unlike the
  // reference, which groups region-ordered tokens as if they were time steps (SPEC-later b),
  // LGI tokens are put back in raster order first, so frame t sees the whole face at time t.
  bool keep_temporal_dim = false;
  // LoRA adapters on every attention projection (qkv / q, kv / proj) when lora_rank > 0:
  // W x + (lora_alpha / lora_rank) B A x with A Kaiming-uniform, B zero (lora.h).
  int64_t lora_rank = 0;
  double lora_alpha = 16.0;

  // The encoder family: "vit" (the transformer of attn_type below) or "videomamba"
  // (videomamba.h: bidirectional Mamba blocks over cls + raster tokens; with kPretrain the pixel
  // reconstructor of videomamba_pretrain.h, whose decoder takes decoder_embed_dim/decoder_depth).
  std::string backbone = "vit";
  // VideoMamba only. Mamba sizes (upstream ssm_cfg; dt_rank is ceil(embed_dim / 16)).
  int64_t d_state = 16;
  int64_t d_conv = 4;
  int64_t expand = 2;
  // true: upstream VideoMamba's learned `pos_embed` (1, 1+H'W', D); false: the later reference's
  // fixed sinusoid table of the same shape (not a parameter). Pooling follows use_mean_pooling:
  // false = the cls token (upstream), true = mean of the patch tokens (the later reference).
  bool mamba_learned_pos = true;
  double fc_drop_rate = 0.0;  // dropout before the head (upstream head_drop)

  // Attention type: "joint" (plain ViT blocks) or "local_global" (LGI-Former blocks).
  std::string attn_type = "joint";
  std::array<int64_t, 3> lg_region_size{2, 2, 10};  // (t, h, w) in tokens
  std::string lg_first_attn_type = "self";          // "self" | "cross"
  std::string lg_third_attn_type = "cross";         // "cross" | "self"
  bool lg_attn_param_sharing_first_third = false;
  bool lg_attn_param_sharing_all = false;
  bool lg_no_second = false;
  bool lg_no_third = false;
  std::string lg_classify_token_type = "org";  // "org" | "region" | "all" (fine-tune only)

  // Pre-train decoder (kind == kPretrain).
  int64_t decoder_embed_dim = 512;
  int64_t decoder_depth = 8;
  int64_t decoder_num_heads = 8;
  // Upstream adds the decoder position table to the visible tokens in raster order although the
  // LGI encoder returns them region-major (SPEC §8.1). false reproduces that; true reorders the
  // encoder output to raster order first.
  bool fix_decoder_pos_order = false;

  // Derived quantities (validate() checks that they are consistent).
  std::array<int64_t, 3> token_grid() const;  // (T', H', W')
  int64_t num_patches() const;
  std::array<int64_t, 3> lg_num_regions() const;  // (nt, nh, nw)
  int64_t num_regions() const;
  int64_t decoder_num_classes() const;  // in_chans * tubelet * patch^2 (pixels per token)
  int64_t num_outputs() const;          // per clip (or per frame): sum of heads, else num_classes
};

// Known registry names (the four upstream timm entry points of the ViT / LGI-Former, then
// VideoMamba's videomamba_tiny/small/middle, the later reference's
// videomamba_base_dim512_patch16_160 and its pre-training models
// pretrain_videomamba_base_dim512_patch16_160 and videomamba_middle_pretrain).
std::vector<std::string> model_names();

// Defaults for `name`; throws UsageError listing the known names when unknown.
ModelSpec spec_from_name(const std::string& name);

// Whether `name` is a pre-training (kPretrain) model: the registry's answer for known names (one
// of them, videomamba_middle_pretrain, does not start with "pretrain_"), else the prefix.
bool is_pretrain_name(const std::string& name);

// The exact released configurations (SPEC §1.1): LGI-Former depth 16, region (2,5,10), region
// pooling, drop path 0.1, init scale 0.001; and the matching pre-train model (decoder depth 4).
ModelSpec released_finetune_spec(int64_t num_classes = 7);
ModelSpec released_pretrain_spec();

// Throws UsageError naming the field when the spec cannot be built (bad enum strings, sizes that
// do not divide, unsupported combinations).
void validate(const ModelSpec& spec);

// One-line human description ("LGI-Former 512d x16, heads 8, regions 4x2x1 ...").
std::string describe(const ModelSpec& spec);

}  // namespace dfer::models
