// The training loop shared by the engines: epochs over a loader with gradient accumulation,
// per-iteration LR / weight-decay schedules, autocast + loss scaling, NaN/Inf step skipping,
// optional gradient clipping, progress, metrics.jsonl, atomic checkpoints with exact resume, and
// graceful SIGTERM / SIGINT handling.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>

#include "dfer/config/config.h"
#include "dfer/data/loader.h"
#include "dfer/dist/grad_sync.h"
#include "dfer/train/optimizer.h"
#include "dfer/train/precision.h"
#include "dfer/train/schedule.h"

namespace dfer::train {

class TensorBoardWriter;

struct TrainerSetup {
  std::string task;  // "pretrain" / "finetune": log and metrics labels
  std::shared_ptr<torch::nn::Module> model;
  torch::Device device = torch::kCPU;
  Precision precision = Precision::kFp32;
  std::vector<ParamGroup> groups;
  AdamWOptions adamw;
  std::shared_ptr<data::Loader> loader;
  // Loss of one micro-batch (clips already on the device), computed inside the autocast scope.
  // `seed` is unique to this micro-batch: draw batch-level randomness (mixup) from it.
  std::function<torch::Tensor(data::Batch& batch, uint64_t seed)> loss;
  // Called after each training epoch (model in eval mode is the callee's business); the returned
  // fields join that epoch's metrics.jsonl line.
  std::function<nlohmann::json(int64_t epoch)> on_epoch_end;
  // Engine state that must survive a resume (best metric, ...).
  std::function<nlohmann::json()> save_extra;
  std::function<void(const nlohmann::json&)> load_extra;
};

struct FitResult {
  int exit_code = 0;        // 0, or 128 + signal after a graceful stop
  int64_t epochs_done = 0;  // completed epochs (including resumed ones)
  int64_t global_step = 0;
  int64_t skipped_steps = 0;  // non-finite steps skipped (NaN/Inf loss or gradient)
  double last_loss = 0;
  bool resumed = false;
};

class Trainer {
 public:
  // Reads training.*, optimization.*, system.* from `cfg`; builds the optimizer and schedules.
  // In a data-parallel job (dist::world()), every rank constructs one and calls fit().
  Trainer(const Config& cfg, TrainerSetup setup);
  ~Trainer();
  FitResult fit();

  const Schedules& schedules() const { return schedules_; }
  AdamW& optimizer() { return *optimizer_; }

 private:
  void resume();
  void save(const std::string& tag, int64_t epoch, int64_t next_batch);
  nlohmann::json train_one_epoch(int64_t epoch, int64_t start_batch, FitResult& result);
  // A stop signal as every rank sees it: at the step agreement, and at the end of an epoch.
  int step_stop_signal() const;
  int agreed_stop_signal() const;

  const Config& cfg_;
  TrainerSetup s_;
  std::unique_ptr<AdamW> optimizer_;
  Schedules schedules_;
  LossScaler scaler_;
  std::string out_dir_;
  int64_t epochs_ = 1, update_freq_ = 1, iters_per_epoch_ = 1;
  uint64_t seed_ = 0;
  // Position and counters (all saved in checkpoints).
  int64_t start_epoch_ = 0, start_batch_ = 0, global_step_ = 0;
  int64_t nan_streak_ = 0, nan_total_ = 0, scaler_skips_ = 0;
  nlohmann::json epoch_partial_;  // running sums of an interrupted epoch
  std::unique_ptr<dist::GradientSync> grad_sync_;
  bool step_stop_ = false;  // some rank was signalled before this step's backward
  std::unique_ptr<TensorBoardWriter> tensorboard_;  // system.log_dir set, rank 0 only
};

// Total number of parameters that require a gradient.
int64_t count_trainable(const torch::nn::Module& module);

}  // namespace dfer::train
