// Model name registry, spec validation and description (see dfer/models/spec.h).
#include "dfer/models/spec.h"

#include "dfer/util/error.h"

#include <fmt/format.h>

namespace dfer::models {

std::array<int64_t, 3> ModelSpec::token_grid() const {
  return {num_frames / tubelet_size, img_size / patch_size, img_size / patch_size};
}

int64_t ModelSpec::num_patches() const {
  auto g = token_grid();
  return g[0] * g[1] * g[2];
}

std::array<int64_t, 3> ModelSpec::lg_num_regions() const {
  auto g = token_grid();
  return {g[0] / lg_region_size[0], g[1] / lg_region_size[1], g[2] / lg_region_size[2]};
}

int64_t ModelSpec::num_regions() const {
  auto r = lg_num_regions();
  return r[0] * r[1] * r[2];
}

int64_t ModelSpec::decoder_num_classes() const {
  return in_chans * tubelet_size * patch_size * patch_size;
}

int64_t ModelSpec::num_outputs() const {
  if (heads.empty()) return num_classes;
  int64_t n = 0;
  for (const auto& h : heads) n += h.second;
  return n;
}

std::vector<std::string> model_names() {
  return {"vit_base_patch16_160",
          "vit_base_dim512_no_depth_patch16_160",
          "pretrain_videomae_base_patch16_160",
          "pretrain_videomae_base_dim512_no_depth_patch16_160",
          "videomamba_tiny",
          "videomamba_small",
          "videomamba_middle",
          "videomamba_base_dim512_patch16_160",
          "pretrain_videomamba_base_dim512_patch16_160",
          "videomamba_middle_pretrain"};
}

namespace {

// VideoMamba entry points. tiny/small/middle: upstream's video classifier with its class
// defaults (224 px, 8 frames, tubelet 1, drop path 0.1, cls pooling, learned positions); the
// dim512 one: the later reference's ViM (160 px, 16 frames, tubelet 2, mean pooling, sinusoid
// spatial table). The later reference's masked pre-training models (ViM_pretrain.py, SPEC-later d)
// share the dim512 geometry: pixel reconstruction, the pre-training decoder below. Its
// videomamba_middle_pretrain is 768 wide as SPEC-later records it (upstream's middle is 576, so its
// encoder does not load into videomamba_middle). Returns false for other names.
bool videomamba_spec(const std::string& name, ModelSpec& s) {
  const std::pair<const char*, std::pair<int64_t, int64_t>> sizes[] = {
      {"videomamba_tiny", {192, 24}},
      {"videomamba_small", {384, 24}},
      {"videomamba_middle", {576, 32}},
      {"videomamba_base_dim512_patch16_160", {512, 32}},
      {"pretrain_videomamba_base_dim512_patch16_160", {512, 32}},
      {"videomamba_middle_pretrain", {768, 32}}};
  for (const auto& [n, dims] : sizes) {
    if (name != n) continue;
    s.backbone = "videomamba";
    s.embed_dim = dims.first;
    s.depth = dims.second;
    s.num_heads = 1;  // unused by Mamba blocks
    s.qkv_bias = false;
    s.norm_eps = 1e-5;
    s.drop_path_rate = 0.1;
    s.d_state = 16;
    s.d_conv = 4;
    s.expand = 2;
    const bool pretrain = name.find("pretrain") != std::string::npos;
    const bool fork = pretrain || name == "videomamba_base_dim512_patch16_160";
    s.img_size = fork ? 160 : 224;
    s.patch_size = 16;
    s.num_frames = fork ? 16 : 8;
    s.tubelet_size = fork ? 2 : 1;
    s.mamba_learned_pos = !fork;
    s.use_mean_pooling = fork;
    if (pretrain) {
      s.kind = ModelKind::kPretrain;
      s.num_classes = 0;
      // The pixel decoder: as wide as the encoder (upstream's 768 is the CLIP teacher's width of
      // its distillation decoder, which a pixel target does not have) and 4 bidirectional Mamba
      // blocks, the decoder depth of the only recipe that trains it (voxceleb2_pretrain_mamba).
      s.decoder_embed_dim = dims.first;
      s.decoder_depth = 4;
      s.decoder_num_heads = 1;  // unused by Mamba blocks
    }
    return true;
  }
  return false;
}

}  // namespace

ModelSpec spec_from_name(const std::string& name) {
  ModelSpec s;
  s.name = name;
  if (videomamba_spec(name, s)) return s;
  // Shared by the four entry points: 160 px, 16 px patches, q/v bias, LayerNorm eps 1e-6.
  s.img_size = 160;
  s.patch_size = 16;
  s.mlp_ratio = 4.0;
  s.qkv_bias = true;
  s.norm_eps = 1e-6;
  if (name == "vit_base_patch16_160") {
    s.embed_dim = 768;
    s.depth = 12;
    s.num_heads = 12;
  } else if (name == "vit_base_dim512_no_depth_patch16_160") {
    s.embed_dim = 512;
    s.num_heads = 8;  // depth stays the class default 12 unless the caller sets it
  } else if (name == "pretrain_videomae_base_patch16_160" ||
             name == "pretrain_videomae_base_dim512_no_depth_patch16_160") {
    s.kind = ModelKind::kPretrain;
    bool dim512 = name.find("dim512") != std::string::npos;
    s.embed_dim = dim512 ? 512 : 768;
    s.num_heads = dim512 ? 8 : 12;
    s.depth = 12;
    s.num_classes = 0;
    s.decoder_embed_dim = 384;
    s.decoder_num_heads = 6;
    s.decoder_depth = 8;  // PretrainVisionTransformer class default
    // PretrainVisionTransformer's own defaults differ from the fine-tune class for these two.
    s.lg_region_size = {2, 2, 10};
    s.init_values = 0.0;
  } else {
    std::string known;
    for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
    throw UsageError(fmt::format("unknown model name '{}' (known: {})", name, known));
  }
  return s;
}

bool is_pretrain_name(const std::string& name) {
  for (const auto& n : model_names())
    if (n == name) return spec_from_name(name).kind == ModelKind::kPretrain;
  return name.rfind("pretrain_", 0) == 0;
}

ModelSpec released_finetune_spec(int64_t num_classes) {
  ModelSpec s = spec_from_name("vit_base_dim512_no_depth_patch16_160");
  s.num_classes = num_classes;
  s.num_frames = 16;
  s.depth = 16;
  s.drop_path_rate = 0.1;
  s.init_scale = 0.001;
  s.use_mean_pooling = true;
  s.attn_type = "local_global";
  s.lg_region_size = {2, 5, 10};
  s.lg_classify_token_type = "region";
  return s;
}

ModelSpec released_pretrain_spec() {
  ModelSpec s = spec_from_name("pretrain_videomae_base_dim512_no_depth_patch16_160");
  s.depth = 16;
  s.decoder_depth = 4;
  s.drop_path_rate = 0.0;
  s.attn_type = "local_global";
  s.lg_region_size = {2, 5, 10};
  return s;
}

namespace {

void require(bool ok, const std::string& field, const std::string& why) {
  if (!ok) throw UsageError(fmt::format("model spec: {}: {}", field, why));
}

bool one_of(const std::string& v, std::initializer_list<const char*> allowed) {
  for (const char* a : allowed)
    if (v == a) return true;
  return false;
}

// What the VideoMamba classifier supports today; the ViT-only options must stay at their
// defaults so that a config asking for them fails here rather than being ignored.
void validate_videomamba(const ModelSpec& s) {
  require(s.d_state > 0, "d_state", "must be positive");
  require(s.d_conv > 0, "d_conv", "must be positive");
  require(s.expand > 0, "expand", "must be positive");
  const std::pair<double, const char*> rates[] = {{s.drop_rate, "drop_rate"},
                                                  {s.drop_path_rate, "drop_path_rate"},
                                                  {s.fc_drop_rate, "fc_drop_rate"}};
  for (const auto& [v, f] : rates)
    require(v >= 0.0 && v < 1.0, f, fmt::format("{} must be in [0, 1)", v));
  require(!s.keep_temporal_dim || s.use_mean_pooling, "keep_temporal_dim",
          "per-frame outputs need mean pooling (use_mean_pooling)");
  const std::pair<bool, const char*> unsupported[] = {
      {!s.head_activation.empty(), "head_activation"},
      {s.lora_rank != 0, "lora_rank"},
      {s.init_scale != 0.0, "init_scale"},
      {s.init_values != 0.0, "init_values"}};
  for (const auto& [set, f] : unsupported)
    require(!set, f, "is not supported with backbone videomamba");
  for (const auto& [name, n] : s.heads)
    require(!name.empty() && n > 0, "heads",
            fmt::format("head '{}' needs a name and >= 1 output", name));
  require(s.decoder_hidden >= 0, "decoder_hidden", "must be >= 0");
  if (s.kind == ModelKind::kPretrain) {
    require(s.decoder_embed_dim > 0, "decoder_embed_dim", "must be positive");
    require(s.decoder_depth >= 0, "decoder_depth", "must be >= 0");
    require(!s.keep_temporal_dim, "keep_temporal_dim",
            "is a fine-tune output; the pre-training model predicts pixels");
    require(s.heads.empty() && s.decoder_hidden == 0, "heads",
            "task heads and their decoder belong to the fine-tune model; the pre-training model "
            "predicts pixels");
  }
}

}  // namespace

void validate(const ModelSpec& s) {
  require(s.img_size > 0 && s.patch_size > 0 && s.img_size % s.patch_size == 0, "img_size",
          fmt::format("{} must be a positive multiple of patch_size {}", s.img_size, s.patch_size));
  require(s.tubelet_size > 0 && s.num_frames > 0 && s.num_frames % s.tubelet_size == 0,
          "num_frames",
          fmt::format("{} must be a positive multiple of tubelet_size {}", s.num_frames,
                      s.tubelet_size));
  require(s.in_chans > 0, "in_chans", "must be positive");
  require(s.num_classes >= 0, "num_classes", "must be >= 0");
  require(s.embed_dim > 0, "embed_dim", "must be positive");
  require(s.depth >= 0, "depth", "must be >= 0");
  require(one_of(s.backbone, {"vit", "videomamba"}), "backbone",
          fmt::format("'{}' is not one of vit, videomamba", s.backbone));
  if (s.backbone == "videomamba") {
    validate_videomamba(s);
    return;
  }
  require(s.num_heads > 0 && s.embed_dim % s.num_heads == 0, "num_heads",
          fmt::format("embed_dim {} must be divisible by num_heads {}", s.embed_dim, s.num_heads));
  require(s.mlp_ratio > 0, "mlp_ratio", "must be positive");
  const std::pair<double, const char*> rates[] = {{s.drop_rate, "drop_rate"},
                                                  {s.attn_drop_rate, "attn_drop_rate"},
                                                  {s.drop_path_rate, "drop_path_rate"}};
  for (const auto& [v, f] : rates)
    require(v >= 0.0 && v < 1.0, f, fmt::format("{} must be in [0, 1)", v));
  require(s.init_values >= 0.0, "init_values", "must be >= 0");
  require(one_of(s.head_activation, {"", "sigmoid", "relu", "tanh"}), "head_activation",
          fmt::format("'{}' is not one of '', sigmoid, relu, tanh", s.head_activation));
  require(one_of(s.attn_type, {"joint", "local_global"}), "attn_type",
          fmt::format("'{}' is not one of joint, local_global", s.attn_type));
  if (s.attn_type == "local_global") {
    require(s.init_values == 0.0, "init_values",
            "layer scale (init_values > 0) is not implemented for LGI-Former blocks");
    require(one_of(s.lg_first_attn_type, {"self", "cross"}), "lg_first_attn_type",
            fmt::format("'{}' is not one of self, cross", s.lg_first_attn_type));
    require(one_of(s.lg_third_attn_type, {"self", "cross"}), "lg_third_attn_type",
            fmt::format("'{}' is not one of self, cross", s.lg_third_attn_type));
    require(one_of(s.lg_classify_token_type, {"org", "region", "all"}), "lg_classify_token_type",
            fmt::format("'{}' is not one of org, region, all", s.lg_classify_token_type));
    auto g = s.token_grid();
    const char* axis[3] = {"t", "h", "w"};
    for (int i = 0; i < 3; ++i)
      require(s.lg_region_size[i] > 0 && g[i] % s.lg_region_size[i] == 0, "lg_region_size",
              fmt::format("region {} size {} does not divide the token grid {} ({}x{}x{})", axis[i],
                          s.lg_region_size[i], g[i], g[0], g[1], g[2]));
  }
  for (const auto& [name, n] : s.heads)
    require(!name.empty() && n > 0, "heads",
            fmt::format("head '{}' needs a name and >= 1 output", name));
  require(s.decoder_hidden >= 0, "decoder_hidden", "must be >= 0");
  require(s.lora_rank >= 0, "lora_rank", "must be >= 0");
  require(s.lora_rank == 0 || s.lora_alpha > 0, "lora_alpha", "must be positive");
  if (s.keep_temporal_dim) {
    require(s.kind == ModelKind::kFinetune && s.use_mean_pooling, "keep_temporal_dim",
            "per-frame outputs need the fine-tune model with mean pooling (use_mean_pooling)");
    require(s.attn_type != "local_global" || s.lg_classify_token_type == "org", "keep_temporal_dim",
            "per-frame outputs of an LGI-Former need lg_classify_token_type 'org' (region tokens "
            "have no time position)");
  }
  if (s.kind == ModelKind::kPretrain) {
    require(s.decoder_embed_dim > 0 && s.decoder_num_heads > 0 &&
                s.decoder_embed_dim % s.decoder_num_heads == 0,
            "decoder_num_heads",
            fmt::format("decoder_embed_dim {} must be divisible by decoder_num_heads {}",
                        s.decoder_embed_dim, s.decoder_num_heads));
    require(s.decoder_depth >= 0, "decoder_depth", "must be >= 0");
  }
}

std::string describe(const ModelSpec& s) {
  auto g = s.token_grid();
  if (s.backbone == "videomamba" && s.kind == ModelKind::kPretrain)
    return fmt::format(
        "pre-train {}: VideoMamba ({}) dim {} depth {} d_state {} expand {}, input {}x{}x{}, "
        "tokens 1+{}x{}x{}, Mamba pixel decoder dim {} depth {}",
        s.name, s.mamba_learned_pos ? "learned positions" : "sinusoid positions", s.embed_dim,
        s.depth, s.d_state, s.expand, s.num_frames, s.img_size, s.img_size, g[0], g[1], g[2],
        s.decoder_embed_dim, s.decoder_depth);
  if (s.backbone == "videomamba")
    return fmt::format(
        "fine-tune {}: VideoMamba ({}, {} pooling) dim {} depth {} d_state {} expand {}, input "
        "{}x{}x{}, tokens 1+{}x{}x{}, {} classes",
        s.name, s.mamba_learned_pos ? "learned positions" : "sinusoid positions",
        s.use_mean_pooling ? "mean" : "cls", s.embed_dim, s.depth, s.d_state, s.expand,
        s.num_frames, s.img_size, s.img_size, g[0], g[1], g[2], s.num_classes);
  std::string arch;
  if (s.attn_type == "local_global") {
    auto r = s.lg_num_regions();
    arch = fmt::format(
        "LGI-Former (regions {}x{}x{} of {}x{}x{} tokens{})", r[0], r[1], r[2], s.lg_region_size[0],
        s.lg_region_size[1], s.lg_region_size[2],
        s.kind == ModelKind::kFinetune ? ", pooling " + s.lg_classify_token_type : std::string());
  } else {
    arch = "ViT (joint attention)";
  }
  std::string out = fmt::format(
      "{} {}: {} dim {} depth {} heads {}, input {}x{}x{}, tokens {}x{}x{}",
      s.kind == ModelKind::kPretrain ? "pre-train" : "fine-tune", s.name, arch, s.embed_dim,
      s.depth, s.num_heads, s.num_frames, s.img_size, s.img_size, g[0], g[1], g[2]);
  if (s.kind == ModelKind::kPretrain)
    out += fmt::format(", decoder dim {} depth {} heads {}", s.decoder_embed_dim, s.decoder_depth,
                       s.decoder_num_heads);
  else
    out += fmt::format(", {} classes", s.num_classes);
  return out;
}

}  // namespace dfer::models
