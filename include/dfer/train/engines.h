// The task engines behind dfer-pretrain and dfer-finetune. Each takes the effective config (process
// setup already done by run_task) and returns the exit code (0, or 128 + signal after a graceful
// stop).
#pragma once

#include <functional>
#include <string>

#include "dfer/config/config.h"
#include "dfer/train/precision.h"

namespace dfer::train {

// MAE-DFER pre-training (SPEC 2): part-window masks, appearance + motion MSE, AdamW without layer
// decay, checkpoints of the whole pre-train model.
int run_pretrain(const Config& cfg);

// Fine-tuning (SPEC 3): optional pre-trained encoder (training.finetune), layer-wise LR decay,
// mixup / cutmix soft targets or label smoothing, validation each epoch, then the multi-view test
// of the last-epoch model (final_results.json, test_predictions.csv). training.eval_only skips
// training and tests the loaded weights.
int run_finetune(const Config& cfg);

// Optional config switches that older schemas may lack: the value when `key` is declared, else
// `fallback`.
bool config_bool_or(const Config& cfg, const std::string& key, bool fallback);

// Rethrows an out-of-memory failure (CUDA or host) from `fn` as a dfer::Error that names the batch
// size and the settings that reduce memory.
int with_oom_hint(const Config& cfg, const std::function<int()>& fn);

}  // namespace dfer::train
