// The shared training loop (see trainer.h).
#include "dfer/train/trainer.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <spdlog/spdlog.h>

#include "dfer/data/random.h"
#include "dfer/dist/grad_sync.h"
#include "dfer/dist/world.h"
#include "dfer/models/layers.h"
#include "dfer/models/weights.h"
#include "dfer/train/checkpoint.h"
#include "dfer/train/metrics.h"
#include "dfer/train/original_log.h"
#include "dfer/train/progress.h"
#include "dfer/train/signals.h"
#include "dfer/train/tensorboard.h"
#include "dfer/util/error.h"

namespace dfer::train {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Salt of the stochastic-depth keys, apart from the augmentation's use of the same sample seeds.
constexpr uint64_t kDropPathStream = 0x64726f7070617468ull;  // "droppath"

void batch_to_device(data::Batch& b, const torch::Device& d) {
  if (d.is_cpu()) return;
  const bool nb = d.is_cuda();  // pinned host batches make these asynchronous
  if (b.clips.defined()) b.clips = b.clips.to(d, nb);
  if (b.labels.defined()) b.labels = b.labels.to(d, nb);
  if (b.targets.defined()) b.targets = b.targets.to(d, nb);
  if (b.masks.defined()) b.masks = b.masks.to(d, nb);
}

// Test hook: a pause after every optimizer step, so process-kill tests can hit a running job.
int64_t step_delay_ms() {
  const char* v = std::getenv("DFER_TEST_STEP_DELAY_MS");
  return v ? std::atoll(v) : 0;
}
}  // namespace

int64_t count_trainable(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters())
    if (p.requires_grad()) n += p.numel();
  return n;
}

Trainer::Trainer(const Config& cfg, TrainerSetup setup)
    : cfg_(cfg), s_(std::move(setup)), scaler_(s_.precision == Precision::kFp16) {
  out_dir_ = cfg.get_string("system.output_dir");
  if (out_dir_.empty())
    throw UsageError("system.output_dir: a training run needs an output folder (--output_dir DIR)");
  if (cfg.get_string("optimization.optimizer") != "adamw")
    throw UsageError(
        "optimization.optimizer: only adamw is implemented (the reference recipes "
        "all use AdamW)");
  epochs_ = cfg.get_int("training.epochs");
  update_freq_ = cfg.get_int("training.update_freq");
  seed_ = static_cast<uint64_t>(cfg.get_int("system.seed"));
  const int64_t batches = s_.loader->batches_per_epoch();
  iters_per_epoch_ = batches / update_freq_;
  if (iters_per_epoch_ < 1)
    throw UsageError("data.batch_size / training.update_freq: the training set gives " +
                     std::to_string(batches) + " full batches of " +
                     std::to_string(cfg.get_int("data.batch_size")) +
                     " per epoch, fewer than update_freq = " + std::to_string(update_freq_) +
                     "; use a smaller batch or a larger dataset");
  ScheduleOptions so;
  so.lr = cfg.get_float("optimization.lr");
  so.min_lr = cfg.get_float("optimization.min_lr");
  // The reference's scaling: batch x update_freq x world size / 256.
  so.total_batch = cfg.get_int("data.batch_size") * update_freq_ * dist::world().size();
  so.epochs = epochs_;
  so.iters_per_epoch = iters_per_epoch_;
  so.warmup_epochs = cfg.get_int("optimization.warmup_epochs");
  so.warmup_steps = cfg.get_int("optimization.warmup_steps");
  so.cosine = cfg.get_string("optimization.sched") == "cosine";
  so.weight_decay = cfg.get_float("optimization.weight_decay");
  so.weight_decay_end = cfg.get_opt_float("optimization.weight_decay_end").value_or(-1.0);
  schedules_ = make_schedules(so);
  const auto& betas = cfg.get_float_list("optimization.opt_betas");
  s_.adamw.beta1 = betas.at(0);
  s_.adamw.beta2 = betas.at(1);
  s_.adamw.eps = cfg.get_float("optimization.opt_eps");
  optimizer_ = std::make_unique<AdamW>(s_.groups, s_.adamw);
}

int Trainer::step_stop_signal() const {
  if (!step_stop_) return 0;
  const int own = stop_signal();
  return own != 0 ? own : SIGTERM;  // another rank was signalled: stop with it
}

int Trainer::agreed_stop_signal() const {
  dist::World& world = dist::world();
  const int own = stop_signal();
  if (!world.distributed()) return own;
  const auto any = world.sum(std::vector<double>{own != 0 ? 1.0 : 0.0}, "the stop agreement");
  return any[0] > 0 ? (own != 0 ? own : SIGTERM) : 0;
}

Trainer::~Trainer() = default;

FitResult Trainer::fit() {
  FitResult result;
  install_stop_handlers();
  dist::World& world = dist::world();
  // Same start on every rank: rank 0's initial weights (then every rank reads the same
  // checkpoint, if any), and gradient averaging for the parameters the optimizer updates.
  {
    std::vector<torch::Tensor> state;
    for (auto& p : s_.model->parameters()) state.push_back(p);
    for (auto& b : s_.model->buffers()) state.push_back(b);
    world.broadcast(state, "the initial weights");
  }
  std::vector<torch::Tensor> trainable;
  for (auto& p : s_.model->parameters())
    if (p.requires_grad()) trainable.push_back(p);
  grad_sync_ = std::make_unique<dist::GradientSync>(world, trainable);
  if (world.is_main()) {
    if (const int64_t n = remove_stale_temp_files(out_dir_); n > 0)
      spdlog::info("removed {} temp file(s) left in {} by a killed run", n, out_dir_);
  }
  resume();
  result.resumed = global_step_ > 0;
  spdlog::info(
      "{}: {} epochs x {} iterations (batch {} x update_freq {} x {} process{}), peak lr {:.4g}, "
      "min lr {:.4g}, {} warm-up iterations, precision {}, device {}",
      s_.task, epochs_, iters_per_epoch_, cfg_.get_int("data.batch_size"), update_freq_,
      world.size(), world.size() > 1 ? "es" : "", schedules_.peak_lr, schedules_.min_lr,
      schedules_.warmup_iters, precision_name(s_.precision), s_.device.str());
  if (world.distributed())
    spdlog::info("gradient all-reduce: {} bucket(s), {:.1f} MB per step over {}",
                 grad_sync_->stats().buckets, grad_sync_->stats().bytes / 1e6, world.backend());
  const std::string metrics_path = (std::filesystem::path(out_dir_) / "metrics.jsonl").string();
  // Epochs after the checkpoint run again: their lines from the killed run go.
  const auto log_style = parse_original_log_style(cfg_.get_string("system.log_txt"));
  const std::string original_log = (std::filesystem::path(out_dir_) / kOriginalLogName).string();
  if (world.is_main()) {
    if (const int64_t n = keep_epochs_before(metrics_path, start_epoch_); n > 0)
      spdlog::info("metrics.jsonl: removed {} line(s) of epochs that run again from epoch {}", n,
                   start_epoch_);
    if (start_epoch_ < epochs_) prune_original_log(original_log, start_epoch_);
  }
  // A new event file per process start; a resumed run marks its restart step, so TensorBoard
  // drops what the killed run logged past it.
  const auto log_dir = cfg_.get_opt_string("system.log_dir");
  if (world.is_main() && log_dir && !log_dir->empty() && start_epoch_ < epochs_) {
    tensorboard_ = std::make_unique<TensorBoardWriter>(*log_dir);
    if (global_step_ > 0) tensorboard_->restart_at(global_step_);
    spdlog::info("TensorBoard events: {}", tensorboard_->path());
  }
  const int64_t freq = cfg_.get_int("training.save_ckpt_freq");
  const bool save_ckpt = cfg_.get_bool("training.save_ckpt");
  const int64_t n_params = count_trainable(*s_.model);
  for (int64_t epoch = start_epoch_; epoch < epochs_; ++epoch) {
    const auto t0 = Clock::now();
    nlohmann::json line = {{"epoch", epoch}};
    line.update(train_one_epoch(epoch, epoch == start_epoch_ ? start_batch_ : 0, result));
    if (result.exit_code != 0) return result;
    epoch_partial_ = nlohmann::json::object();
    if (s_.on_epoch_end) line.update(s_.on_epoch_end(epoch));
    line["n_parameters"] = n_params;
    line["epoch_time_s"] = seconds_since(t0);
    if (world.is_main()) {
      append_jsonl(metrics_path, line);
      append_original_log(out_dir_, original_epoch_line(line, log_style));
    }
    if (tensorboard_) {
      std::vector<std::pair<std::string, double>> scalars;
      for (const auto& [key, value] : line.items())
        if (value.is_number() && key != "epoch")
          scalars.emplace_back("epoch/" + key, value.get<double>());
      tensorboard_->add_scalars(epoch, scalars);
      tensorboard_->flush();
    }
    result.epochs_done = epoch + 1;
    const int sig = agreed_stop_signal();
    if ((save_ckpt && ((epoch + 1) % freq == 0 || epoch + 1 == epochs_)) || sig != 0) {
      save(std::to_string(epoch), epoch + 1, 0);
      if (world.is_main())
        prune_checkpoints(out_dir_, cfg_.get_int("training.keep_last_checkpoints"));
    }
    if (sig != 0) {
      spdlog::warn("stopped by signal {} after epoch {}; resume with the same command", sig, epoch);
      result.exit_code = exit_code_for_signal(sig);
      return result;
    }
  }
  if (start_epoch_ >= epochs_) {
    spdlog::info("training already complete ({} epochs)", epochs_);
    result.epochs_done = epochs_;
  }
  result.global_step = global_step_;
  result.skipped_steps = nan_total_;
  remove_stop_handlers();
  return result;
}

nlohmann::json Trainer::train_one_epoch(int64_t epoch, int64_t start_batch, FitResult& result) {
  dist::World& world = dist::world();
  s_.model->train();
  s_.loader->start_epoch(epoch, start_batch);
  Average loss_avg, lr_avg, gnorm_avg;
  double data_wait = 0;
  if (start_batch > 0 && epoch_partial_.contains("loss_sum")) {
    loss_avg.sum = epoch_partial_["loss_sum"];
    loss_avg.n = epoch_partial_["loss_n"];
    lr_avg.sum = epoch_partial_["lr_sum"];
    lr_avg.n = epoch_partial_["lr_n"];
  }
  const int64_t max_batches = iters_per_epoch_ * update_freq_;
  const int64_t max_nan = cfg_.get_int("training.max_nan_steps");
  const auto clip = cfg_.get_opt_float("optimization.clip_grad");
  const int64_t delay = step_delay_ms();
  Progress progress(s_.task + " epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs_),
                    iters_per_epoch_, "it");
  int64_t batch_index = start_batch, micro = 0, clips = 0;
  bool bad = false;
  double micro_loss = 0;
  const auto t_epoch = Clock::now();
  double lr = 0, wd = 0;
  while (batch_index < max_batches) {
    auto t_wait = Clock::now();
    auto batch = s_.loader->next();
    data_wait += seconds_since(t_wait);
    if (!batch) break;
    batch_to_device(*batch, s_.device);
    const size_t it = static_cast<size_t>(
        std::min<int64_t>(global_step_, static_cast<int64_t>(schedules_.lr.size()) - 1));
    lr = schedules_.lr[it];
    wd = schedules_.wd[it];
    // Per-micro-batch seed: drop path (torch RNG) and mixup draws do not depend on how the run
    // was split into processes / resumes.
    const uint64_t seed =
        data::mix_seed(seed_, static_cast<uint64_t>(global_step_ * update_freq_ + micro));
    torch::manual_seed(seed);
    // Stochastic depth keyed by (seed, epoch, sample): the same whatever the world size.
    std::vector<uint64_t> keys;
    for (int64_t index : batch->indices)
      keys.push_back(data::mix_seed(data::sample_seed(seed_, epoch, index), kDropPathStream));
    torch::Tensor loss;
    {
      models::DropPathKeys drop_path_keys(std::move(keys));
      AutocastScope autocast(s_.precision, s_.device);
      loss = s_.loss(*batch, seed);
    }
    const double lv = loss.item<double>();
    if (!std::isfinite(lv)) {
      bad = true;
      spdlog::warn("non-finite loss ({}) at epoch {} batch {} (step {}): skipping the step", lv,
                   epoch, batch_index, global_step_);
    }
    const bool last_micro = micro + 1 == update_freq_;
    if (last_micro && world.distributed()) {
      // Before the backward that communicates, the ranks agree: all skip a step that is bad
      // anywhere (no rank then waits for another's gradients), and all stop at the same step.
      const auto flags = world.sum(std::vector<double>{bad ? 1.0 : 0.0, stop_signal() ? 1.0 : 0.0},
                                   "the step agreement");
      if (flags[0] > 0 && !bad) {
        bad = true;
        spdlog::warn("another rank had a non-finite loss at step {}: skipping the step",
                     global_step_);
      }
      step_stop_ = flags[1] > 0;
    }
    if (!bad) {
      torch::Tensor l = loss.to(torch::kFloat) / static_cast<double>(update_freq_);
      if (scaler_.enabled()) l = l * scaler_.scale();
      if (last_micro) grad_sync_->arm();
      l.backward();
      if (last_micro) grad_sync_->finish();
      micro_loss += lv;
    }
    clips += batch->size();
    ++micro;
    ++batch_index;
    if (micro < update_freq_) continue;

    bool stepped = false;
    double gnorm = 0;
    if (!bad) {
      if (scaler_.enabled()) optimizer_->scale_grads(1.0 / scaler_.scale());
      gnorm = optimizer_->grad_norm();
      const bool finite = std::isfinite(gnorm);
      if (scaler_.enabled()) {
        scaler_.update(!finite);
        if (!finite) ++scaler_skips_;  // fp16 overflow: expected now and then, not an error
      } else if (!finite) {
        bad = true;
        spdlog::warn("non-finite gradient norm at epoch {} batch {} (step {}): skipping the step",
                     epoch, batch_index - 1, global_step_);
      }
      if (finite) {
        if (clip && *clip > 0 && gnorm > *clip) optimizer_->scale_grads(*clip / (gnorm + 1e-6));
        optimizer_->step(lr, wd);
        stepped = true;
      }
    }
    optimizer_->zero_grad();
    if (bad) {
      ++nan_streak_;
      ++nan_total_;
      if (max_nan > 0 && nan_streak_ >= max_nan)
        throw Error("training diverged: " + std::to_string(nan_streak_) +
                    " steps in a row had a non-finite loss or gradient (last at epoch " +
                    std::to_string(epoch) + ", step " + std::to_string(global_step_) +
                    "); lower optimization.lr, set optimization.clip_grad, or use "
                    "system.precision fp32 (training.max_nan_steps sets this limit)");
    } else if (stepped) {
      nan_streak_ = 0;
      loss_avg.add(micro_loss / static_cast<double>(update_freq_));
      gnorm_avg.add(gnorm);
      result.last_loss = micro_loss / static_cast<double>(update_freq_);
    }
    if (tensorboard_) {
      // Rank 0's own loss: averaging it over the ranks would cost a collective per step.
      std::vector<std::pair<std::string, double>> scalars = {{"train/lr", lr}};
      if (stepped) scalars.emplace_back("train/loss", result.last_loss);
      tensorboard_->add_scalars(global_step_, scalars);
    }
    lr_avg.add(lr);
    bad = false;
    micro = 0;
    micro_loss = 0;
    ++global_step_;
    char status[128];
    std::snprintf(status, sizeof status, "loss %.4f lr %.3g", loss_avg.mean(), lr);
    progress.update(batch_index / update_freq_, status);
    if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    if (const int sig = world.distributed() ? step_stop_signal() : stop_signal()) {
      progress.finish(status);
      epoch_partial_ = {{"loss_sum", loss_avg.sum},
                        {"loss_n", loss_avg.n},
                        {"lr_sum", lr_avg.sum},
                        {"lr_n", lr_avg.n}};
      spdlog::warn("signal {} received: saving at epoch {} batch {} and stopping", sig, epoch,
                   batch_index);
      save(std::to_string(epoch) + "-" + std::to_string(batch_index), epoch, batch_index);
      result.exit_code = exit_code_for_signal(sig);
      result.global_step = global_step_;
      return nlohmann::json::object();
    }
  }
  const double elapsed = seconds_since(t_epoch);
  if (world.distributed()) {
    // The epoch's figures over all ranks: every step's loss is then the global batch's mean.
    const auto sums =
        world.sum(std::vector<double>{loss_avg.sum, gnorm_avg.sum, static_cast<double>(clips)},
                  "the epoch's training loss");
    const double w = static_cast<double>(world.size());
    loss_avg.sum = sums[0] / w;
    gnorm_avg.sum = sums[1] / w;
    clips = static_cast<int64_t>(sums[2]);
  }
  char status[128];
  std::snprintf(status, sizeof status, "loss %.4f", loss_avg.mean());
  progress.finish(status);
  spdlog::info(
      "{} epoch {}/{}: loss {:.4f}, lr {:.4g}, {:.1f} clips/s, data wait {:.1f} s of {:.1f} s",
      s_.task, epoch + 1, epochs_, loss_avg.mean(), lr_avg.mean(),
      elapsed > 0 ? static_cast<double>(clips) / elapsed : 0.0, data_wait, elapsed);
  // The reference's min_lr meter: the lowest group's rate (layer decay scales the early layers).
  double min_scale = 1.0;
  for (const auto& g : s_.groups) min_scale = std::min(min_scale, g.lr_scale);
  return {{"train_loss", loss_avg.mean()},
          {"train_lr", lr_avg.mean()},
          {"train_min_lr", lr_avg.mean() * min_scale},
          {"train_loss_scale", scaler_.enabled() ? scaler_.scale() : 1.0},
          {"train_last_lr", lr},
          {"train_weight_decay", wd},
          {"train_grad_norm", gnorm_avg.mean()},
          {"train_skipped_steps", nan_total_},
          {"train_scaler_skips", scaler_skips_},
          {"train_clips_per_s", elapsed > 0 ? static_cast<double>(clips) / elapsed : 0.0},
          {"train_data_wait_s", data_wait}};
}

}  // namespace dfer::train
