// Learning-rate and weight-decay schedules of the reference (utils.cosine_scheduler): linear
// warm-up from a start value (0 upstream, SPEC 8.11), then per-iteration cosine to the final value.
#pragma once

#include <cstdint>
#include <vector>

namespace dfer::train {

// One value per optimizer iteration, epochs * iters_per_epoch in all:
//   warm-up (W = warmup_steps if > 0, else warmup_epochs * iters_per_epoch iterations):
//     numpy.linspace(start_warmup, base, W) (both ends included);
//   then i = 0..I-1 with I = total - W: final + 0.5 (base - final) (1 + cos(pi i / I)).
// Throws dfer::UsageError when the warm-up is longer than the schedule.
std::vector<double> cosine_schedule(double base, double final_value, int64_t epochs,
                                    int64_t iters_per_epoch, int64_t warmup_epochs = 0,
                                    double start_warmup = 0.0, int64_t warmup_steps = -1);

// The reference's linear LR scaling rule: value * total_batch / 256 (SPEC 8.12).
inline double scale_lr_by_batch(double value, int64_t total_batch) {
  return value * static_cast<double>(total_batch) / 256.0;
}

// The schedules a training run uses (what the engines index with the global optimizer step).
struct Schedules {
  std::vector<double> lr;  // already batch-scaled
  std::vector<double> wd;
  double peak_lr = 0, min_lr = 0;
  int64_t iters_per_epoch = 0;
  int64_t warmup_iters = 0;
};

struct ScheduleOptions {
  double lr = 1e-3, min_lr = 1e-6;  // unscaled (config values)
  int64_t total_batch = 256;        // batch * update_freq * world size
  int64_t epochs = 1;
  int64_t iters_per_epoch = 1;
  int64_t warmup_epochs = 0;
  int64_t warmup_steps = -1;
  bool cosine = true;  // false (`sched: none`): constant, unscaled lr, as upstream
  double weight_decay = 0.05;
  double weight_decay_end = -1;  // < 0: constant weight decay
};

Schedules make_schedules(const ScheduleOptions& options);

}  // namespace dfer::train
