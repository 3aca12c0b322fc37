// The task engines behind dfer-pretrain and dfer-finetune. Each takes the effective config (process
// setup already done by run_task) and returns the exit code (0, or 128 + signal after a graceful
// stop).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "dfer/config/config.h"
#include "dfer/models/vision_transformer.h"
#include "dfer/train/param_groups.h"
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

// Gaze regression (dfer-gaze360, data.task regression: MSE or L2CS heads) or combined emotion +
// gaze (dfer-combine, data.task combine: reg + cls heads) on per-sequence frame CSVs, with
// freeze / LoRA, per-epoch angular error (+ UAR / WAR), checkpoint-best.safetensors by the
// selection metric, final_results.json and val_videos.csv.
int run_gaze(const Config& cfg, bool combine);

// The model side of a fine-tuning run, shared by the fine-tune and gaze engines: device and
// precision (system.*), the spec, the model with training.finetune loaded and the freeze / LoRA
// policy applied (trainable.h), moved to the device.
struct FinetuneModel {
  torch::Device device;
  Precision precision;
  models::ModelSpec spec;
  models::ClipClassifier model;  // ViT / LGI-Former or VideoMamba (model.name)
};
FinetuneModel prepare_finetune_model(const Config& cfg);

// Layer-decay parameter groups (optimization.weight_decay / layer_decay, the fine-tune skip list)
// over the model's trainable parameters only.
std::vector<ParamGroup> finetune_param_groups(const Config& cfg, const FinetuneModel& m);

// training.finetune: loads a pre-trained or fine-tuned checkpoint into the encoder by upstream's
// key rules (heads of another shape are left fresh); UsageError when the file is missing or no
// tensor fits.
void load_pretrained_encoder(models::ClipClassifierImpl& model, const std::string& path);

// Optional config switches that older schemas may lack: the value when `key` is declared, else
// `fallback`.
bool config_bool_or(const Config& cfg, const std::string& key, bool fallback);

// Rethrows an out-of-memory failure (CUDA or host) from `fn` as a dfer::Error that names the batch
// size and the settings that reduce memory.
int with_oom_hint(const Config& cfg, const std::function<int()>& fn);

}  // namespace dfer::train
