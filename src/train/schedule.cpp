// Cosine schedules with linear warm-up (see schedule.h).
#include "dfer/train/schedule.h"

#include <cmath>
#include <string>

#include "dfer/util/error.h"

namespace dfer::train {

std::vector<double> cosine_schedule(double base, double final_value, int64_t epochs,
                                    int64_t iters_per_epoch, int64_t warmup_epochs,
                                    double start_warmup, int64_t warmup_steps) {
  if (epochs < 1 || iters_per_epoch < 1)
    throw UsageError("schedule: epochs (" + std::to_string(epochs) +
                     ") and iterations per epoch (" + std::to_string(iters_per_epoch) +
                     ") must be >= 1 (is the dataset smaller "
                     "than one batch?)");
  const int64_t total = epochs * iters_per_epoch;
  const int64_t warmup = warmup_steps > 0 ? warmup_steps : warmup_epochs * iters_per_epoch;
  if (warmup > total)
    throw UsageError("schedule: " + std::to_string(warmup) + " warm-up iterations exceed the " +
                     std::to_string(total) +
                     " iterations of the run (optimization.warmup_epochs "
                     "/ warmup_steps)");
  std::vector<double> out;
  out.reserve(static_cast<size_t>(total));
  // numpy.linspace: start + i * step, the last point set to the end value exactly.
  for (int64_t i = 0; i < warmup; ++i) {
    if (i == warmup - 1 && warmup > 1) {
      out.push_back(base);
    } else {
      const double step = warmup > 1 ? (base - start_warmup) / static_cast<double>(warmup - 1) : 0;
      out.push_back(start_warmup + static_cast<double>(i) * step);
    }
  }
  const int64_t rest = total - warmup;
  for (int64_t i = 0; i < rest; ++i) {
    out.push_back(final_value +
                  0.5 * (base - final_value) *
                      (1.0 + std::cos(M_PI * static_cast<double>(i) / static_cast<double>(rest))));
  }
  return out;
}

Schedules make_schedules(const ScheduleOptions& o) {
  Schedules s;
  s.iters_per_epoch = o.iters_per_epoch;
  const int64_t total = o.epochs * o.iters_per_epoch;
  if (o.cosine) {
    s.peak_lr = scale_lr_by_batch(o.lr, o.total_batch);
    s.min_lr = scale_lr_by_batch(o.min_lr, o.total_batch);
    s.lr = cosine_schedule(s.peak_lr, s.min_lr, o.epochs, o.iters_per_epoch, o.warmup_epochs, 0.0,
                           o.warmup_steps);
    s.warmup_iters = o.warmup_steps > 0 ? o.warmup_steps : o.warmup_epochs * o.iters_per_epoch;
  } else {
    s.peak_lr = s.min_lr = o.lr;
    s.lr.assign(static_cast<size_t>(total), o.lr);
  }
  const double wd_end = o.weight_decay_end < 0 ? o.weight_decay : o.weight_decay_end;
  s.wd = cosine_schedule(o.weight_decay, wd_end, o.epochs, o.iters_per_epoch);
  return s;
}

}  // namespace dfer::train
