// Task dispatch for the training executables (see task.h).
#include "dfer/train/task.h"

#include <torch/torch.h>

#include "dfer/config/cli.h"
#include "dfer/models/build.h"
#include "dfer/models/summary.h"
#include "dfer/train/engines.h"
#include "dfer/train/model_factory.h"
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

int run_task(const Config& cfg, Task task) {
  const auto& out = cfg.get_string("system.output_dir");
  if (!out.empty()) add_log_file(out);
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
