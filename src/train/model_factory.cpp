// Config -> ModelSpec mapping (see model_factory.h).
#include "dfer/train/model_factory.h"

#include <spdlog/spdlog.h>

#include "dfer/util/error.h"

namespace dfer::train {

namespace {

// The later reference's heads per data.task (SPEC-later b, SPEC 5.3), its decoder and LoRA.
void apply_task_heads(const Config& cfg, models::ModelSpec& spec) {
  const auto& task = cfg.get_string("data.task");
  const bool keep_t = cfg.get_bool("model.keep_temporal_dim");
  if (task == "classification") {
    if (keep_t)
      throw UsageError(
          "model.keep_temporal_dim: per-frame outputs are for the regression and combine tasks "
          "(data.task), not classification");
  } else {
    const int64_t dims = cfg.get_int("data.num_dim_reg");
    if (dims != 2)
      throw UsageError("data.num_dim_reg: gaze is (pitch, yaw), so 2 outputs (got " +
                       std::to_string(dims) + ")");
    spec.keep_temporal_dim = keep_t;
    if (task == "combine") {
      spec.heads = {{"reg", dims}, {"cls", cfg.get_int("data.num_classes_cls")}};
    } else if (cfg.get_bool("gaze.use_l2cs")) {
      const int64_t bins = cfg.get_int("gaze.num_bins");
      spec.heads = {{"pitch", bins}, {"yaw", bins}};
    } else {
      spec.num_classes = dims;
    }
    // Upstream builds the MLP decoder for regression only (and only with freeze; here whenever
    // asked for, since it is just a deeper head).
    if (task == "regression" && cfg.get_string("training.decoder") == "mlp")
      spec.decoder_hidden = 512;
  }
  if (cfg.get_bool("training.use_lora")) {
    spec.lora_rank = cfg.get_int("training.lora_rank");
    spec.lora_alpha = cfg.get_float("training.lora_alpha");
  }
}

}  // namespace

models::ModelSpec model_spec_from_config(const Config& cfg) {
  auto spec = models::spec_from_name(cfg.get_string("model.name"));
  const bool pretrain = spec.kind == models::ModelKind::kPretrain;

  spec.img_size = cfg.get_int("model.input_size");
  spec.tubelet_size = cfg.get_int("model.tubelet_size");
  spec.num_frames = cfg.get_int("data.num_frames") * cfg.get_int("data.num_segments");
  if (auto p = cfg.get_opt_int("model.patch_size")) spec.patch_size = *p;
  if (auto v = cfg.get_opt_int("model.embed_dim")) spec.embed_dim = *v;
  if (auto v = cfg.get_opt_int("model.num_heads")) spec.num_heads = *v;
  if (auto v = cfg.get_opt_float("model.mlp_ratio")) spec.mlp_ratio = *v;
  spec.qkv_bias = cfg.get_bool("model.qkv_bias");
  spec.init_values = cfg.get_float("model.init_values");
  spec.drop_rate = cfg.get_float("model.drop");
  spec.attn_drop_rate = cfg.get_float("model.attn_drop_rate");
  spec.drop_path_rate = cfg.get_float("model.drop_path");

  spec.attn_type = cfg.get_string("model.attn_type");
  const auto& region = cfg.get_int_list("model.lg_region_size");
  if (region.size() != 3)
    throw UsageError("model.lg_region_size: expected 3 values (t, h, w), got " +
                     std::to_string(region.size()));
  spec.lg_region_size = {region[0], region[1], region[2]};
  spec.lg_first_attn_type = cfg.get_string("model.lg_first_attn_type");
  spec.lg_third_attn_type = cfg.get_string("model.lg_third_attn_type");
  spec.lg_attn_param_sharing_first_third = cfg.get_bool("model.lg_attn_param_sharing_first_third");
  spec.lg_attn_param_sharing_all = cfg.get_bool("model.lg_attn_param_sharing_all");
  spec.lg_no_second = cfg.get_bool("model.lg_no_second");
  spec.lg_no_third = cfg.get_bool("model.lg_no_third");

  if (pretrain && spec.backbone == "videomamba") {
    // The Mamba encoder is the fine-tuning model's (same names, same depth): model.depth, as for
    // fine-tuning, or the registered depth. The later reference's Mamba YAML carries the ViT's
    // encoder_depth 16 beside a 32-layer model; it does not apply here, and a set value says so.
    if (auto d = cfg.get_opt_int("model.depth")) spec.depth = *d;
    if (cfg.is_explicit("model.encoder_depth") && cfg.get_int("model.encoder_depth") != spec.depth)
      spdlog::warn(
          "model.encoder_depth {} is not used by {}: its encoder has model.depth {} layers",
          cfg.get_int("model.encoder_depth"), spec.name, spec.depth);
    spec.decoder_depth = cfg.get_int("model.decoder_depth");
    if (auto v = cfg.get_opt_int("model.decoder_embed_dim")) spec.decoder_embed_dim = *v;
  } else if (pretrain) {
    // Upstream passes encoder_depth/decoder_depth to the pre-train entry point.
    spec.depth = cfg.get_int("model.encoder_depth");
    spec.decoder_depth = cfg.get_int("model.decoder_depth");
    if (auto v = cfg.get_opt_int("model.decoder_embed_dim")) spec.decoder_embed_dim = *v;
    if (auto v = cfg.get_opt_int("model.decoder_num_heads")) spec.decoder_num_heads = *v;
    spec.fix_decoder_pos_order = cfg.get_bool("model.fix_decoder_pos_order");
  } else {
    // Upstream passes depth only when it is set (a None depth keeps the class default, SPEC §1.1).
    if (auto d = cfg.get_opt_int("model.depth")) spec.depth = *d;
    spec.num_classes = cfg.get_int("data.num_classes");
    spec.use_mean_pooling = cfg.get_bool("model.use_mean_pooling");
    // The later reference passes init_scale to the ViT only; its ViM has no head scaling.
    if (spec.backbone == "vit") spec.init_scale = cfg.get_float("model.init_scale");
    spec.lg_classify_token_type = cfg.get_string("model.lg_classify_token_type");
    apply_task_heads(cfg, spec);
  }
  models::validate(spec);
  return spec;
}

}  // namespace dfer::train
