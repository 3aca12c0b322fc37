// The trainer's checkpoint half (see trainer.h): the training state written atomically by rank 0,
// and the resume that every rank performs from the same checkpoint.
#include <chrono>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/version.h>

#include "dfer/dist/world.h"
#include "dfer/models/weights.h"
#include "dfer/train/checkpoint.h"
#include "dfer/train/trainer.h"
#include "dfer/util/error.h"
#include "dfer/util/system.h"

namespace dfer::train {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// What a CPU run's bits depend on beyond the config and the data: a resume under other values
// continues correctly, but no longer bit for bit like the uninterrupted run.
nlohmann::json bit_environment(const TrainerSetup& s) {
  const BlasInfo blas = detect_blas();
  return {{"threads", at::get_num_threads()},
          {"precision", precision_name(s.precision)},
          {"device", s.device.str()},
          {"world_size", dist::world().size()},
          {"gemm", at::hasMKL() ? blas.name + "; " + mkl_dispatch_report() : blas.name},
          {"libtorch", TORCH_VERSION}};
}
}  // namespace

void Trainer::save(const std::string& tag, int64_t epoch, int64_t next_batch) {
  // Rank 0 writes; the ranks hold the same weights and optimizer state (averaged gradients).
  if (!dist::world().is_main()) return;
  const auto t0 = std::chrono::steady_clock::now();
  auto weights = models::state_dict(*s_.model);
  auto tensors = optimizer_->state_tensors();
  tensors.emplace_back("rng.torch_cpu", cpu_rng_state());
  nlohmann::json st = {{"version", 1},
                       {"task", s_.task},
                       {"epoch", epoch},
                       {"batch", next_batch},
                       {"epochs", epochs_},
                       {"global_step", global_step_},
                       {"iters_per_epoch", iters_per_epoch_},
                       {"update_freq", update_freq_},
                       {"nan_streak", nan_streak_},
                       {"nan_total", nan_total_},
                       {"scaler_skips", scaler_skips_},
                       {"optimizer", optimizer_->state_json()},
                       {"scaler", scaler_.to_json()},
                       {"epoch_partial", epoch_partial_},
                       {"extra", s_.save_extra ? s_.save_extra() : nlohmann::json::object()},
                       {"seed", seed_},
                       {"bit_environment", bit_environment(s_)},
                       {"config", cfg_.dump_yaml()}};
  save_checkpoint(out_dir_, tag, weights, tensors, st);
  spdlog::info("saved checkpoint-{} (epoch {}, step {}) in {:.2f} s", tag, epoch, global_step_,
               seconds_since(t0));
}

void Trainer::resume() {
  std::optional<LoadedCheckpoint> c;
  const std::string& explicit_path = cfg_.get_string("training.resume");
  if (!explicit_path.empty()) {
    c = load_checkpoint_path(explicit_path);
  } else if (cfg_.get_bool("training.auto_resume")) {
    ResumeScan scan = scan_resume_checkpoints(out_dir_);
    c = std::move(scan.checkpoint);
    if (!c && !scan.rejected.empty()) {
      // Starting over silently would throw away the run's history and repeat hours of work.
      std::string why;
      for (const auto& [tag, reason] : scan.rejected)
        why += fmt::format("\n  checkpoint-{}: {}", tag, reason);
      if (!cfg_.get_bool("training.allow_restart"))
        throw UsageError(fmt::format(
            "resume: {} holds {} checkpoint(s) and none loads:{}\nMove them away, or set "
            "training.allow_restart true to start this run from scratch",
            out_dir_, scan.rejected.size(), why));
      spdlog::warn(
          "resume: no checkpoint in {} loads; starting from scratch "
          "(training.allow_restart):{}",
          out_dir_, why);
    }
  }
  if (!c) return;
  const auto& st = c->state;
  if (st.value("task", s_.task) != s_.task)
    throw UsageError("resume: checkpoint-" + c->tag + " is from a " +
                     st.value("task", std::string("?")) + " run, this is " + s_.task);
  models::load_state(*s_.model, c->weights, /*strict=*/true);
  optimizer_->load_state(c->state_tensors, st.at("optimizer"));
  scaler_.from_json(st.value("scaler", nlohmann::json::object()));
  if (auto it = c->state_tensors.find("rng.torch_cpu"); it != c->state_tensors.end())
    set_cpu_rng_state(it->second);
  start_epoch_ = st.at("epoch").get<int64_t>();
  start_batch_ = st.value("batch", int64_t{0});
  global_step_ = st.at("global_step").get<int64_t>();
  nan_streak_ = st.value("nan_streak", int64_t{0});
  nan_total_ = st.value("nan_total", int64_t{0});
  scaler_skips_ = st.value("scaler_skips", int64_t{0});
  epoch_partial_ = st.value("epoch_partial", nlohmann::json::object());
  if (s_.load_extra && st.contains("extra")) s_.load_extra(st.at("extra"));
  if (st.contains("bit_environment")) {
    const nlohmann::json now = bit_environment(s_);
    std::string diff;
    for (const auto& [key, value] : st.at("bit_environment").items())
      if (now.value(key, nlohmann::json()) != value)
        diff += fmt::format("; {} was {}, is {}", key, value.dump(),
                            now.value(key, nlohmann::json()).dump());
    if (!diff.empty())
      spdlog::warn(
          "resume: checkpoint-{} was written under other settings, so this run is no longer "
          "bitwise reproducible against an uninterrupted one{}",
          c->tag, diff);
  }
  if (st.value("iters_per_epoch", iters_per_epoch_) != iters_per_epoch_)
    spdlog::warn(
        "resume: the checkpoint ran {} iterations per epoch, this run {} (batch size or "
        "dataset changed); the schedule position follows the step count",
        st.value("iters_per_epoch", int64_t{0}), iters_per_epoch_);
  spdlog::info("resumed from checkpoint-{}: epoch {}, batch {}, step {}", c->tag, start_epoch_,
               start_batch_, global_step_);
}

}  // namespace dfer::train
