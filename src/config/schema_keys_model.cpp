// Key table: sections `model` and `pretraining`. Defaults follow the ORIG MAE-DFER recipe where
// ORIG and REF (the yacs fork) differ; the help line says so. Architecture keys that upstream
// derives from the model name are nullable: null = "as the model name implies".
#include "schema_builder.h"

namespace dfer::config::detail {

void add_model_keys(std::vector<KeyDef>& out) {
  SectionAdder m(out, "model");
  m.s("name", "vit_base_dim512_no_depth_patch16_160",
      "registered model name (REF default vit_base_patch16_224 is not registered; ORIG fine-tune "
      "uses this one, pre-training pretrain_videomae_base_dim512_no_depth_patch16_160)");
  m.s("model_key", "model|module", "'|'-separated keys tried inside a fine-tune source checkpoint");
  m.s("prefix", "", "prefix added to checkpoint keys on a non-strict load");
  m.i("tubelet_size", 2, "frames per tubelet (patch depth); also the target patch depth in MAE")
      .min(1);
  m.i("input_size", 160, "crop size in pixels (REF default 224; the registered models need 160)")
      .min(1);
  m.f("drop", 0.0, "dropout after the MLP / projection").range(0.0, 1.0);
  m.f("attn_drop_rate", 0.0, "attention-probability dropout").range(0.0, 1.0);
  m.f("drop_path", 0.1, "stochastic depth rate of the last block (linear from 0)").range(0.0, 1.0);
  m.none("depth", ValueType::kInt,
         "encoder blocks for fine-tuning; null = the name's class default (12 for *no_depth*, "
         "as upstream); ORIG scripts pass 16")
      .min(1);
  m.b("use_checkpoint", false, "upstream activation checkpointing flag; unused").no_effect();
  m.b("with_cp", false, "upstream checkpointing flag; unused").no_effect();
  m.b("cos_attn", false, "upstream cosine-attention flag; unused").no_effect();
  m.b("use_mean_pooling", true,
      "fc_norm over the mean of the pooled tokens (ORIG and all configs: true; REF default false)");
  m.f("init_scale", 0.001, "classifier head init scale (ORIG; REF re-creates the head without it)");
  m.s("mask_type", "part_window",
      "pre-training mask generator (ORIG recipe part_window; REF default tube mis-groups LGI "
      "regions, SPEC 8.24)")
      .choices({"tube", "part_window"});
  m.il("window_size", {8, 14, 14},
       "token grid; upstream overwrites it at run time from frames/tubelet and input/patch")
      .len(3)
      .no_effect();
  m.f("mask_ratio", 0.9, "pre-training mask ratio (ORIG recipe 0.9; REF default 0.75)")
      .range(0.0, 1.0);
  m.il("part_win_size", {2, 5, 10},
       "part_window window in tokens (t,h,w); only h,w are used (ORIG recipe; REF default 8,7,7)")
      .len(3)
      .min(1);
  m.none("part_apply_symmetry", ValueType::kString,
         "symmetric part_window variant; null = off (REF default True asserts)")
      .choices({"global", "local"});
  m.s("attn_type", "local_global", "encoder attention: local_global (LGI-Former) or joint (ViT)")
      .choices({"local_global", "joint"});
  m.il("lg_region_size", {2, 5, 10},
       "LGI region size in tokens (t,h,w) (ORIG recipe 2,5,10; REF default 2,2,10)")
      .len(3)
      .min(1);
  m.s("lg_first_attn_type", "self", "S1 attention type").choices({"self", "cross"});
  m.s("lg_third_attn_type", "cross", "S3 attention type").choices({"cross", "self"});
  m.b("lg_attn_param_sharing_first_third", false, "share weights between S1 and S3");
  m.b("lg_attn_param_sharing_all", false, "share weights between S1, S2 and S3");
  m.s("lg_classify_token_type", "region",
      "tokens pooled by the head (ORIG recipe region; REF/argparse default org)")
      .choices({"org", "region", "all"});
  m.b("lg_no_second", false, "drop S2 (global inter-region attention)");
  m.b("lg_no_third", false, "drop S3 (local-global interaction)");
  m.i("encoder_depth", 16, "pre-training encoder blocks (ORIG script and REF: 16)").min(1);
  m.i("decoder_depth", 4, "pre-training decoder blocks (ORIG script and REF: 4)").min(0);
  m.b("normalize_target", true, "per-patch normalisation of the MAE target");
  m.none("patch_size", ValueType::kInt,
         "spatial patch size in pixels; null = from the name (16). Upstream sets it at run time")
      .min(1);
  m.b("keep_temporal_dim", false,
      "per-frame outputs (combine/gaze); upstream token-order quirk, SPEC-later b");
  m.b("use_enhanced_patch_embed", false, "upstream experimental patch embedding; not implemented")
      .no_effect();
  // dfer extensions: architecture normally implied by the model name, so small models can be built.
  m.none("embed_dim", ValueType::kInt, "dfer: encoder width; null = from the name (512 for dim512)")
      .min(1);
  m.none("num_heads", ValueType::kInt, "dfer: encoder heads; null = from the name (8 for dim512)")
      .min(1);
  m.none("mlp_ratio", ValueType::kFloat, "dfer: MLP hidden/width ratio; null = from the name (4)")
      .min(0.0);
  m.b("qkv_bias", true, "dfer: q and v biases in attention (upstream models: true)");
  m.f("init_values", 0.0, "dfer: layer-scale init; 0 = none (upstream LGBlock cannot do > 0)")
      .min(0.0);
  m.none("decoder_embed_dim", ValueType::kInt,
         "dfer: MAE decoder width; null = from the name (384)")
      .min(1);
  m.none("decoder_num_heads", ValueType::kInt, "dfer: MAE decoder heads; null = from the name (6)")
      .min(1);
  m.b("fix_decoder_pos_order", false,
      "dfer: reorder visible tokens to raster order before the decoder positions; false "
      "reproduces the reference quirk the released weights were trained with (SPEC 8.1)");

  SectionAdder p(out, "pretraining");
  p.b("use_frame_diff_as_target", true,
      "MAE target = appearance + frame difference (ORIG recipe true; REF default false)");
  p.i("frame_diff_group_size", 2, "frames per difference group (= tubelet size)").min(1);
  p.none("target_diff_weight", ValueType::kFloat,
         "weight w of the difference half, loss (1-w)*app + w*diff; null = plain MSE over both")
      .range(0.0, 1.0);
}

}  // namespace dfer::config::detail
