// Task dispatch for the training executables (see task.h).
#include "dfer/train/task.h"

#include <torch/torch.h>

#include "dfer/config/cli.h"
#include "dfer/dist/launch_env.h"
#include "dfer/dist/world.h"
#include "dfer/models/build.h"
#include "dfer/models/summary.h"
#include "dfer/train/engines.h"
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
  const bool pretrain_model = name.rfind("pretrain_", 0) == 0;
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

int task_main(int argc, const char* const* argv, Task task) {
  init_process();
  ToolSpec spec;
  spec.name = task_tool_name(task);
  spec.description = task_description(task);
  spec.after_load = [task](Config& cfg, const CliArgs&) { adapt_config_to_task(cfg, task); };
  spec.job = [task](const Config& cfg) { return run_task(cfg, task); };
  return run_config_tool(argc, argv, spec);
}

}  // namespace dfer::train
