// Key table: sections `optimization`, `training` and `gaze`. Defaults follow the ORIG MAE-DFER
// fine-tune recipe where ORIG and REF differ; the help line names the REF value.
#include "schema_builder.h"

namespace dfer::config::detail {

void add_training_keys(std::vector<KeyDef>& out) {
  SectionAdder o(out, "optimization");
  o.s("optimizer", "adamw", "optimizer").choices({"adamw", "adam", "sgd"});
  o.s("sched", "cosine", "LR schedule; none = constant, unscaled LR (as upstream for non-cosine)")
      .choices({"cosine", "none"});
  o.f("lr", 1e-3, "base LR, scaled by total batch / 256 at run time").min(0.0);
  o.f("min_lr", 1e-6, "final cosine LR, scaled like lr").min(0.0);
  o.f("warmup_lr", 1e-6, "upstream key; warm-up starts at 0, not here (SPEC 8.11)").no_effect();
  o.f("weight_decay", 0.05, "weight decay").min(0.0);
  o.none("weight_decay_end", ValueType::kFloat,
         "final weight decay of a cosine wd schedule; null = "
         "constant")
      .min(0.0);
  o.i("warmup_epochs", 5, "linear warm-up epochs").min(0);
  o.i("warmup_steps", -1, "warm-up iterations; overrides warmup_epochs when > 0");
  o.f("opt_eps", 1e-8, "Adam epsilon").min(0.0);
  o.fl("opt_betas", {0.9, 0.999}, "Adam betas (pre-training recipe 0.9, 0.95)")
      .len(2)
      .range(0.0, 1.0);
  o.f("momentum", 0.9, "SGD momentum").range(0.0, 1.0);
  o.none("clip_grad", ValueType::kFloat, "gradient-norm clip; null = none").min(0.0);
  o.f("layer_decay", 0.75, "layer-wise LR decay for fine-tuning (1 = none)").range(0.0, 1.0);
  o.b("pretrain_region_token_decay", true,
      "dfer: pre-training applies weight decay to encoder.lg_region_tokens as the reference does "
      "(SPEC 8.5: its skip list names the bare key); false excludes them like other tokens");

  SectionAdder t(out, "training");
  t.i("epochs", 100, "training epochs (ORIG recipe 100; REF default 30)").min(1);
  t.i("start_epoch", 0, "first epoch; set by resume").min(0);
  t.i("update_freq", 1, "gradient accumulation steps").min(1);
  t.i("save_ckpt_freq", 100, "save a numbered checkpoint every N epochs (the last is always saved)")
      .min(1);
  t.f("combine_loss_alpha", 1.0, "combine task: weight of the classification loss").min(0.0);
  t.b("modelema_", false, "upstream EMA switch (sic); EMA is not implemented here").no_effect();
  t.b("model_ema", false, "upstream YAML spelling that upstream itself ignored (key is modelema_)")
      .ignored_upstream();
  t.f("model_ema_decay", 0.9999, "upstream EMA decay; EMA is not implemented here").no_effect();
  t.b("model_ema_force_cpu", false, "upstream EMA placement; EMA is not implemented here")
      .no_effect();
  t.b("disable_eval_during_finetuning", false, "skip the per-epoch validation");
  t.b("eval_only", false, "only evaluate the loaded model (--eval upstream)");
  t.b("dist_eval", false, "shard the evaluation over all processes");
  t.b("save_ckpt", true, "write checkpoints");
  t.b("eval_best", false,
      "final test / evaluation with checkpoint-best (the best val_metric epoch) instead of the "
      "last epoch's weights");
  t.b("auto_resume", true, "resume from the newest valid checkpoint in output_dir");
  t.b("allow_restart", false,
      "with auto_resume: start from scratch when output_dir holds checkpoints none of which loads "
      "(otherwise an error lists why each was rejected)");
  t.s("resume", "", "checkpoint to resume from; empty = none");
  t.s("finetune", "", "pre-trained weights to start from; empty or null = none").nullable();
  t.s("val_metric", "acc1", "best-model metric (regression always uses mean angular error)")
      .choices({"acc1", "acc5", "uar", "war", "weighted_f1", "macro_f1", "loss", "mse",
                "mean_angle_error", "video_uar", "video_war", "video_mean_angle_error"});
  t.b("freeze", false, "train only the head and decoder (with use_lora also the adapters)");
  t.s("decoder", "", "regression with freeze: extra MLP before the head ('' or mlp)")
      .choices({"", "mlp"});
  t.b("use_lora", false,
      "LoRA adapters on every attention projection; trains only lora_*, decoder and head");
  t.i("lora_rank", 8, "dfer: rank of the LoRA adapters").min(1);
  t.f("lora_alpha", 16.0, "dfer: LoRA scale numerator (update = alpha / rank * B A)").min(0.0);
  t.b("save_attention", false, "upstream attention dump (crashes upstream); unused").no_effect();
  t.i("keep_last_checkpoints", 0, "dfer: numbered checkpoints kept in output_dir; 0 = all").min(0);
  t.i("max_nan_steps", 50,
      "dfer: abort after this many consecutive non-finite losses; 0 = never abort")
      .min(0);

  SectionAdder g(out, "gaze");
  g.b("use_l2cs", false, "L2CS binned head and loss instead of MSE regression");
  g.i("num_bins", 90, "L2CS bins per angle").min(1);
  g.f("alpha_reg", 1.0, "L2CS weight of the regression term").min(0.0);
  g.f("bin_width", 2.0, "L2CS bin width in degrees").min(0.0);
}

}  // namespace dfer::config::detail
