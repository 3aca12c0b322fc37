// The schema registry itself: consistency of the key table, coverage of the upstream keys, and
// the scalar parsers/formatters that the loader and the dump share.
#include <catch2/catch.hpp>

#include <set>

#include "dfer/config/config.h"
#include "dfer/config/schema.h"

using namespace dfer::config;

TEST_CASE("every key is declared once, lower case, with help and a valid default", "[config]") {
  std::set<std::string> names;
  for (const auto& k : all_keys()) {
    INFO(k.full_name());
    CHECK(names.insert(k.full_name()).second);
    CHECK(k.full_name() == to_lower(k.full_name()));
    CHECK(is_section(k.section));
    CHECK_FALSE(k.help.empty());
    CHECK(k.help.find('\n') == std::string::npos);
    Value v = k.default_value;
    CHECK(check_and_normalize(k, v) == "");
    CHECK(values_equal(v, k.default_value));  // defaults are already canonical
    CHECK(find_key(to_lower(k.section) + "." + k.name) == &k);
  }
  CHECK(names.size() > 150);
}

TEST_CASE("sections come in canonical order and all have keys", "[config]") {
  CHECK(sections() == std::vector<std::string>{"model", "data", "augmentation", "optimization",
                                               "training", "pretraining", "gaze", "system",
                                               "wandb"});
  std::size_t s = 0;
  for (const auto& k : all_keys()) {
    while (s < sections().size() && sections()[s] != k.section) ++s;
    REQUIRE(s < sections().size());  // never goes back to an earlier section
  }
}

TEST_CASE("the keys of SPEC 6 and SPEC-later a are all declared", "[config]") {
  // Every key of the 19 upstream YAMLs (SPEC-later a) and the REF defaults (SPEC 6).
  const char* keys[] = {"model.attn_drop_rate",
                        "model.attn_type",
                        "model.decoder_depth",
                        "model.depth",
                        "model.drop",
                        "model.drop_path",
                        "model.encoder_depth",
                        "model.input_size",
                        "model.keep_temporal_dim",
                        "model.lg_attn_param_sharing_all",
                        "model.lg_attn_param_sharing_first_third",
                        "model.lg_classify_token_type",
                        "model.lg_first_attn_type",
                        "model.lg_no_second",
                        "model.lg_no_third",
                        "model.lg_region_size",
                        "model.lg_third_attn_type",
                        "model.mask_ratio",
                        "model.mask_type",
                        "model.name",
                        "model.normalize_target",
                        "model.part_win_size",
                        "model.tubelet_size",
                        "model.use_enhanced_patch_embed",
                        "model.use_mean_pooling",
                        "model.model_key",
                        "model.prefix",
                        "model.use_checkpoint",
                        "model.with_cp",
                        "model.cos_attn",
                        "model.init_scale",
                        "model.window_size",
                        "model.part_apply_symmetry",
                        "model.patch_size",
                        "data.batch_size",
                        "data.clip_stride",
                        "data.data_path",
                        "data.dataset_name",
                        "data.eval_data_path",
                        "data.imagenet_default_mean_and_std",
                        "data.num_classes",
                        "data.num_classes_cls",
                        "data.num_dim_reg",
                        "data.num_frames",
                        "data.num_segments",
                        "data.num_workers",
                        "data.pin_memory",
                        "data.sampling_rate",
                        "data.task",
                        "data.test_num_segment",
                        "data.test_num_crop",
                        "data.short_side_size",
                        "augmentation.auto_augment",
                        "augmentation.color_jitter",
                        "augmentation.cutmix",
                        "augmentation.cutmix_minmax",
                        "augmentation.label_smoothing",
                        "augmentation.mixup",
                        "augmentation.mixup_mode",
                        "augmentation.mixup_prob",
                        "augmentation.mixup_switch_prob",
                        "augmentation.no_augmentation",
                        "augmentation.num_sample",
                        "augmentation.random_erase_count",
                        "augmentation.random_erase_mode",
                        "augmentation.random_erase_prob",
                        "augmentation.random_erase_split",
                        "augmentation.train_interpolation",
                        "optimization.clip_grad",
                        "optimization.layer_decay",
                        "optimization.lr",
                        "optimization.min_lr",
                        "optimization.momentum",
                        "optimization.opt_betas",
                        "optimization.opt_eps",
                        "optimization.optimizer",
                        "optimization.sched",
                        "optimization.warmup_epochs",
                        "optimization.warmup_lr",
                        "optimization.warmup_steps",
                        "optimization.weight_decay",
                        "optimization.weight_decay_end",
                        "training.auto_resume",
                        "training.combine_loss_alpha",
                        "training.disable_eval_during_finetuning",
                        "training.dist_eval",
                        "training.epochs",
                        "training.eval_only",
                        "training.finetune",
                        "training.freeze",
                        "training.model_ema",
                        "training.model_ema_decay",
                        "training.model_ema_force_cpu",
                        "training.modelema_",
                        "training.resume",
                        "training.save_ckpt",
                        "training.save_ckpt_freq",
                        "training.start_epoch",
                        "training.update_freq",
                        "training.use_lora",
                        "training.val_metric",
                        "training.decoder",
                        "training.save_attention",
                        "pretraining.frame_diff_group_size",
                        "pretraining.target_diff_weight",
                        "pretraining.use_frame_diff_as_target",
                        "gaze.alpha_reg",
                        "gaze.bin_width",
                        "gaze.num_bins",
                        "gaze.use_l2cs",
                        "system.backend",
                        "system.device",
                        "system.dist_backend",
                        "system.dist_on_itp",
                        "system.dist_url",
                        "system.distributed",
                        "system.enable_deepspeed",
                        "system.local_rank",
                        "system.log_dir",
                        "system.output_dir",
                        "system.save_feature",
                        "system.seed",
                        "system.world_size",
                        "system.gpu",
                        "wandb.RUN_NAME",
                        "wandb.TAGS",
                        "wandb.entity",
                        "wandb.project",
                        "wandb.use_wandb",
                        "wandb.wandb_entity",
                        "wandb.wandb_project",
                        "wandb.wandb_run_name",
                        "wandb.notes",
                        "wandb.mode",
                        "wandb.save_code",
                        "wandb.log_freq",
                        "wandb.watch_model",
                        "wandb.watch_log"};
  for (const char* k : keys) {
    INFO(k);
    CHECK(find_key(k) != nullptr);
  }
  CHECK(find_key("training.model_ema")->status == KeyStatus::kIgnoredUpstream);
  CHECK(find_key("system.backend")->status == KeyStatus::kIgnoredUpstream);
  CHECK(find_key("model.lg_region_size")->status == KeyStatus::kActive);
}

TEST_CASE("scalar parsers are strict", "[config]") {
  CHECK(parse_bool("True") == true);
  CHECK(parse_bool("off") == false);
  CHECK_FALSE(parse_bool("1"));
  CHECK_FALSE(parse_bool("tRUE"));
  CHECK(parse_int("-12") == -12);
  CHECK(parse_int("+7") == 7);
  CHECK(parse_int("16.0") == 16);
  CHECK(parse_int("1e3") == 1000);
  CHECK_FALSE(parse_int("16.5"));
  CHECK_FALSE(parse_int("+-1"));
  CHECK_FALSE(parse_int("0x10"));
  CHECK_FALSE(parse_int("1_000"));
  CHECK_FALSE(parse_int(""));
  CHECK_FALSE(parse_int("99999999999999999999"));
  CHECK(parse_float("0.000001") == 1e-6);
  CHECK(parse_float("1e-8") == 1e-8);
  CHECK(parse_float("+.5") == 0.5);
  CHECK_FALSE(parse_float("nan"));
  CHECK_FALSE(parse_float("inf"));
  CHECK_FALSE(parse_float("1e999"));
  CHECK_FALSE(parse_float("0.1x"));
  CHECK_FALSE(parse_float(" 1"));
  CHECK(is_null_literal("~"));
  CHECK(is_null_literal("Null"));
  CHECK_FALSE(is_null_literal("none"));
}

TEST_CASE("formatting: floats keep a dot, strings are quoted only when needed", "[config]") {
  CHECK(format_float(1.0) == "1.0");
  CHECK(format_float(0.001) == "0.001");
  CHECK(format_float(1e-6) == "1.0e-06");
  CHECK(format_float(0.1) == "0.1");
  CHECK(*parse_float(format_float(0.1 + 0.2)) == 0.1 + 0.2);
  CHECK(format_string("local_global") == "local_global");
  CHECK(format_string("./output/x") == "./output/x");
  CHECK(format_string("") == "''");
  CHECK(format_string("true") == "'true'");
  CHECK(format_string("null") == "'null'");
  CHECK(format_string("16") == "'16'");
  CHECK(format_string("env://") == "'env://'");
  CHECK(format_string("it's") == "'it''s'");
  CHECK(format_string("a\nb") == "\"a\\nb\"");
  CHECK(format_value(Value(std::vector<std::int64_t>{2, 5, 10})) == "[2, 5, 10]");
  CHECK(format_value(Value(std::vector<double>{0.9, 0.999})) == "[0.9, 0.999]");
  CHECK(format_value(Value(std::vector<std::string>{})) == "[]");
  CHECK(format_value(Value(std::monostate{})) == "null");
}

TEST_CASE("type names describe nullability and list length", "[config]") {
  CHECK(type_name(*find_key("model.depth")) == "int or null");
  CHECK(type_name(*find_key("model.lg_region_size")) == "list of 3 ints");
  CHECK(type_name(*find_key("wandb.tags")) == "list of strings");
  CHECK(suggest_key("model.lg_region_sise") == "model.lg_region_size");
  CHECK(suggest_key("zzz.qqqqqqq") == "");
}
