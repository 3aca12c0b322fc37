// Key table: sections `system` and `wandb`. Launcher-filled upstream fields are accepted but have
// no effect: dfer reads rank and world size from the launcher's environment.
#include "schema_builder.h"

namespace dfer::config::detail {

void add_system_keys(std::vector<KeyDef>& out) {
  SectionAdder s(out, "system");
  s.s("device", "auto", "auto (cuda when available, else cpu) | cpu | cuda | cuda:N").device();
  s.i("seed", 0, "random seed; per-sample draws derive from it, the epoch and the sample");
  s.s("output_dir", "", "run folder: checkpoints, logs, config.yaml (--output_dir sets it)");
  s.none("log_dir", ValueType::kString,
         "TensorBoard event files (train/loss, train/lr per step; epoch/* per epoch); null = off");
  s.i("world_size", 1, "upstream; the world size comes from the launcher environment").no_effect();
  s.i("local_rank", -1, "upstream; the rank comes from the launcher environment").no_effect();
  s.i("gpu", -1, "upstream; the device index comes from the local rank").no_effect();
  s.b("dist_on_itp", false, "upstream OpenMPI launcher switch; dfer detects the environment")
      .no_effect();
  s.s("dist_url", "env://", "upstream init method; dfer always uses MASTER_ADDR/MASTER_PORT")
      .no_effect();
  s.b("distributed", false,
      "require a launcher environment (torchrun, Slurm); a job of N > 1 processes is joined "
      "whenever the environment describes one");
  s.i("dist_timeout", 1800,
      "dfer: seconds a collective or the rendezvous waits for the other ranks before failing")
      .min(1);
  s.s("dist_backend", "nccl", "collective backend (REF rewrote nccl to gloo, SPEC 6)")
      .choices({"nccl", "gloo"});
  s.s("backend", "nccl",
      "upstream YAML spelling that upstream itself ignored (key is dist_backend)")
      .choices({"nccl", "gloo"})
      .ignored_upstream();
  s.b("enable_deepspeed", false, "upstream DeepSpeed switch; unused").no_effect();
  s.b("save_feature", false, "upstream feature dump switch; read by nothing").no_effect();
  s.i("num_threads", 0, "dfer: CPU threads per process; 0 = OMP_NUM_THREADS or all cores").min(0);
  s.s("precision", "fp32", "dfer: compute precision (ORIG trained with fp16 autocast)")
      .choices({"fp32", "bf16", "fp16"});
  s.s("log_txt", "yacs",
      "dfer: key names of log.txt's JSON lines: yacs (test_<k>, as the later runners) | mae_dfer "
      "(val_<k>, as run_class_finetuning.py; set by MAE-DFER command-line flags)")
      .choices({"yacs", "mae_dfer"});

  SectionAdder w(out, "wandb");
  w.b("use_wandb", false, "upstream Weights & Biases logging; not available here").no_effect();
  w.s("project", "facial-foundation-model", "upstream wandb project").no_effect();
  w.none("entity", ValueType::kString, "upstream wandb entity").no_effect();
  w.none("run_name", ValueType::kString, "upstream wandb run name").no_effect();
  w.sl("tags", {}, "upstream wandb tags").no_effect();
  w.s("notes", "", "upstream wandb notes").no_effect();
  w.s("mode", "online", "upstream wandb mode").no_effect();
  w.b("save_code", true, "upstream wandb code upload").no_effect();
  w.i("log_freq", 50, "upstream wandb logging period").no_effect();
  w.b("watch_model", true, "upstream wandb gradient watching").no_effect();
  w.s("watch_log", "all", "upstream wandb watch mode").no_effect();
  w.s("wandb_project", "", "upstream YAML spelling that upstream ignored (key is project)")
      .ignored_upstream();
  w.none("wandb_entity", ValueType::kString, "upstream YAML spelling that upstream ignored")
      .ignored_upstream();
  w.none("wandb_run_name", ValueType::kString, "upstream YAML spelling that upstream ignored")
      .ignored_upstream();
}

}  // namespace dfer::config::detail
