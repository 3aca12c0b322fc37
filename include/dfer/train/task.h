// The training tasks behind the thin executables (dfer-pretrain, dfer-finetune, dfer-combine,
// dfer-gaze360): one entry point that prepares the run and dispatches to the task's engine.
#pragma once

#include <string>

#include "dfer/config/config.h"

namespace dfer::train {

enum class Task { kPretrain, kFinetune, kCombine, kGaze360 };

const char* task_tool_name(Task task);    // "dfer-finetune", ...
const char* task_description(Task task);  // one line for --help
// Applies the task's fixed settings to a loaded config (e.g. gaze: 2 regression outputs) and
// checks that the model kind fits the task (pretrain needs a pretrain_* model name and vice versa).
void adapt_config_to_task(Config& cfg, Task task);

// Process setup for a run (log file in system.output_dir, threads, seeds), model construction from
// the config, then the task's engine. Returns the exit code.
int run_task(const Config& cfg, Task task);

// A complete main(): the common CLI front (config, overrides, --dump-config) around run_task.
int task_main(int argc, const char* const* argv, Task task);

}  // namespace dfer::train
