// Task dispatch for the training executables (see task.h).
#include "dfer/train/task.h"

#include <torch/torch.h>

#include <CLI/CLI.hpp>

#include <memory>

#include "dfer/config/cli.h"
#include "dfer/dist/launch_env.h"
#include "dfer/dist/world.h"
#include "dfer/models/build.h"
#include "dfer/models/summary.h"
#include "dfer/train/engines.h"
#include "dfer/train/mae_dfer_flags.h"
#include "dfer/train/model_factory.h"
#include "dfer/train/precision.h"
#include "dfer/util/error.h"
#include "dfer/util/log.h"
#include "dfer/util/system.h"

namespace dfer::train {

const char* task_tool_name(Task task) {
  switch (task) {
    case Task::kPretrain:
      return "dfer-pretrain";
    case Task::kFinetune:
      return "dfer-finetune";
    case Task::kCombine:
      return "dfer-combine";
    case Task::kGaze360:
      return "dfer-gaze360";
  }
  return "dfer";
}

const char* task_description(Task task) {
  switch (task) {
    case Task::kPretrain:
      return "MAE-DFER self-supervised pre-training (masked appearance + motion reconstruction)";
    case Task::kFinetune:
      return "fine-tuning for emotion classes, with multi-view test (UAR/WAR)";
    case Task::kCombine:
      return "joint emotion classification + gaze regression";
    case Task::kGaze360:
      return "Gaze360 gaze regression (MSE or L2CS)";
  }
  return "";
}

void adapt_config_to_task(Config& cfg, Task task) {
  const auto& name = cfg.get_string("model.name");
  const bool pretrain_model = models::is_pretrain_name(name);
  if (task == Task::kPretrain && !pretrain_model)
    throw UsageError("model.name: '" + name + "' is a fine-tune model; " + task_tool_name(task) +
                     " needs a pretrain_* model");
  if (task != Task::kPretrain && pretrain_model)
    throw UsageError("model.name: '" + name + "' is a pre-training model; " + task_tool_name(task) +
                     " needs a fine-tune model (e.g. "
                     "vit_base_dim512_no_depth_patch16_160)");
  if (task == Task::kPretrain) return;
  // Each executable runs one data.task; an unset task (the reference's default 'class') takes the
  // executable's, a contradicting one is an error rather than a silent switch.
  const char* wanted = task == Task::kGaze360   ? "regression"
                       : task == Task::kCombine ? "combine"
                                                : "classification";
  const auto& given = cfg.get_string("data.task");
  if (given == wanted) return;
  if (!cfg.is_explicit("data.task")) {
    cfg.set_string("data.task", wanted);
    return;
  }
  const char* tool = given == "regression" ? "dfer-gaze360"
                     : given == "combine"  ? "dfer-combine"
                                           : "dfer-finetune";
  throw UsageError("data.task: '" + given + "' is run by " + tool + ", not " +
                   task_tool_name(task));
}

namespace {

// Joins the data-parallel job the launcher's environment describes (a world of one without one).
void join_world(const Config& cfg) {
  const dist::LaunchEnv env = dist::read_launch_env();
  if (cfg.get_bool("system.distributed") && env.launcher == "none")
    throw UsageError(
        "system.distributed: true, but no launcher environment is set (RANK / WORLD_SIZE of "
        "torchrun, or SLURM_PROCID / SLURM_NTASKS of srun); start the job with tools/launch.sh, "
        "torchrun --no-python or srun");
  if (env.world_size == 1) return;
  dist::WorldOptions o;
  o.backend = cfg.get_string("system.dist_backend");
  o.timeout = std::chrono::seconds(cfg.get_int("system.dist_timeout"));
  // Ranks other than 0 only warn (their errors still reach their stderr); rank 0 logs and writes.
  if (env.rank != 0) spdlog::set_level(spdlog::level::warn);
  if (o.backend == "nccl") {
    const torch::Device d = resolve_device(cfg.get_string("system.device"), env.local_rank);
    if (!d.is_cuda())
      throw UsageError("system.dist_backend: nccl runs on CUDA devices, and this run is on " +
                       d.str() + "; use gloo for CPU training");
    o.cuda_device = d.index();
  }
  dist::set_world(dist::World::join(env, o));
}

}  // namespace

int run_task(const Config& cfg, Task task) {
  join_world(cfg);
  const auto& out = cfg.get_string("system.output_dir");
  const dist::World& world = dist::world();
  if (!out.empty() && world.is_main()) add_log_file(out);
  if (world.distributed())
    spdlog::info("distributed: {} processes over {} ({})", world.size(), world.backend(),
                 world.env().describe());
  int threads = configure_threads(static_cast<int>(cfg.get_int("system.num_threads")));
  torch::manual_seed(static_cast<uint64_t>(cfg.get_int("system.seed")));
  spdlog::info("{}: {} ({} threads)", task_tool_name(task), task_description(task), threads);

  auto spec = model_spec_from_config(cfg);
  {
    auto model = models::build_model(spec);
    auto summary = models::summarize(*model, spec);
    spdlog::info("model: {}", spec.name);
    spdlog::info("\n{}", summary.to_string());
  }
  switch (task) {
    case Task::kPretrain:
      return with_oom_hint(cfg, [&] { return run_pretrain(cfg); });
    case Task::kFinetune:
      return with_oom_hint(cfg, [&] { return run_finetune(cfg); });
    case Task::kCombine:
      return with_oom_hint(cfg, [&] { return run_gaze(cfg, /*combine=*/true); });
    case Task::kGaze360:
      return with_oom_hint(cfg, [&] { return run_gaze(cfg, /*combine=*/false); });
  }
  throw Error(std::string("unknown task of ") + task_tool_name(task));
}

namespace {

// The later reference's runner flags (SPEC-later §g), so its launch lines run with the binary
// swapped: `--config C --output_dir D [--resume CKPT] [--seed N] [--eval] [--dist_eval]`.
// Pre-training takes --resume and --seed only. Like --output_dir, they win over KEY VALUE.
struct RunnerFlags {
  std::string resume;
  int64_t seed = -1;
  bool seed_given = false, eval = false, dist_eval = false;
};

void add_runner_flags(CLI::App& app, RunnerFlags& f, Task task) {
  app.add_option("--resume", f.resume, "checkpoint to resume from (sets training.resume)")
      ->type_name("CKPT");
  app.add_option("--seed", f.seed, "random seed (sets system.seed)")
      ->each([&f](const std::string&) { f.seed_given = true; });
  if (task == Task::kPretrain) return;
  app.add_flag("--eval", f.eval, "evaluate the loaded model and exit (training.eval_only true)");
  app.add_flag("--dist_eval,--dist-eval", f.dist_eval,
               "shard the evaluation over the processes (training.dist_eval true)");
}

void apply_runner_flags(Config& cfg, const RunnerFlags& f) {
  if (!f.resume.empty()) cfg.set_string("training.resume", f.resume);
  if (f.seed_given) cfg.set_int("system.seed", f.seed);
  if (f.eval) cfg.set_bool("training.eval_only", true);
  if (f.dist_eval) cfg.set_bool("training.dist_eval", true);
}

}  // namespace

int task_main(int argc, const char* const* argv, Task task) {
  init_process();
  ToolSpec spec;
  spec.name = task_tool_name(task);
  spec.description = task_description(task);
  auto flags = std::make_shared<RunnerFlags>();
  spec.add_options = [flags, task](CLI::App& app) { add_runner_flags(app, *flags, task); };
  // MAE-DFER's own scripts call run_class_finetuning.py / run_mae_pretraining.py with argparse
  // flags: translated into config overrides (mae_dfer_flags.h).
  auto notes = std::make_shared<std::vector<std::string>>();
  if (task == Task::kFinetune || task == Task::kPretrain) {
    spec.rewrite_args = [task, notes](const std::vector<std::string>& args,
                                      const std::vector<std::pair<std::string, bool>>& own) {
      std::vector<NativeFlag> native;
      for (const auto& [name, takes_value] : own) native.push_back({name, takes_value});
      auto t = translate_mae_dfer_args(args, task == Task::kPretrain, native);
      *notes = t.notes;
      return t.args;
    };
  }
  spec.after_load = [task, flags, notes](Config& cfg, const CliArgs&) {
    for (const auto& n : *notes) spdlog::warn("{}", n);
    apply_runner_flags(cfg, *flags);
    adapt_config_to_task(cfg, task);
  };
  spec.job = [task](const Config& cfg) { return run_task(cfg, task); };
  return run_config_tool(argc, argv, spec);
}

}  // namespace dfer::train
