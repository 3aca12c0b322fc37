// LR / weight-decay schedules pinned against SPEC 2.6 and 3.1 (warm-up from 0, per-iteration
// cosine, batch scaling).
#include <catch2/catch.hpp>

#include <cmath>

#include "dfer/train/schedule.h"
#include "dfer/util/error.h"

using namespace dfer::train;
using Catch::Matchers::WithinRel;

TEST_CASE("DFEW fine-tune schedule (SPEC 3.1)", "[train][schedule]") {
  // 3 GPUs x 32 = 96 clips per step, 97 iterations per epoch, 100 epochs, 5 warm-up epochs.
  const double peak = scale_lr_by_batch(1e-3, 96);
  const double min_lr = scale_lr_by_batch(1e-6, 96);
  CHECK_THAT(peak, WithinRel(3.75e-4, 1e-12));
  const auto lr = cosine_schedule(peak, min_lr, 100, 97, 5);
  REQUIRE(lr.size() == 9700);
  CHECK(lr[0] == 0.0);
  CHECK_THAT(lr[1], WithinRel(3.75e-4 / 484.0, 1e-12));
  CHECK_THAT(lr[484], WithinRel(3.75e-4, 1e-12));
  CHECK_THAT(lr[485], WithinRel(3.75e-4, 1e-12));
  CHECK_THAT(lr.back(), WithinRel(3.7501e-7, 1e-4));
  // Cosine midpoint of the 9215 post-warm-up iterations is not hit exactly (odd count): check
  // the formula at an arbitrary index instead.
  const int64_t i = 3000;
  const double expect =
      min_lr + 0.5 * (peak - min_lr) * (1 + std::cos(M_PI * static_cast<double>(i) / 9215.0));
  CHECK_THAT(lr[485 + i], WithinRel(expect, 1e-12));
  for (size_t k = 486; k < lr.size(); ++k) REQUIRE(lr[k] <= lr[k - 1]);
}

TEST_CASE("pre-training schedule of the released run (SPEC 2.6)", "[train][schedule]") {
  ScheduleOptions o;
  o.lr = 3e-4;
  o.min_lr = 1e-5;
  o.total_batch = 160;
  o.epochs = 100;
  o.iters_per_epoch = 10;
  o.warmup_epochs = 5;
  o.weight_decay = 0.05;
  const auto s = make_schedules(o);
  CHECK_THAT(s.peak_lr, WithinRel(1.875e-4, 1e-12));
  CHECK_THAT(s.min_lr, WithinRel(6.25e-6, 1e-12));
  CHECK(s.lr[0] == 0.0);
  CHECK_THAT(s.lr[49], WithinRel(1.875e-4, 1e-12));
  CHECK(s.warmup_iters == 50);
  REQUIRE(s.wd.size() == 1000);
  for (double w : s.wd) REQUIRE(w == 0.05);  // weight_decay_end unset: constant
}

TEST_CASE("warm-up steps, weight-decay cosine, constant schedule", "[train][schedule]") {
  auto lr = cosine_schedule(1.0, 0.0, 2, 5, 1, 0.0, 3);  // warmup_steps wins over epochs
  REQUIRE(lr.size() == 10);
  CHECK(lr[0] == 0.0);
  CHECK(lr[1] == 0.5);
  CHECK(lr[2] == 1.0);
  CHECK(lr[3] == 1.0);
  CHECK_THAT(lr[4], WithinRel(0.5 * (1 + std::cos(M_PI / 7.0)), 1e-12));

  ScheduleOptions o;
  o.epochs = 2;
  o.iters_per_epoch = 2;
  o.weight_decay = 0.04;
  o.weight_decay_end = 0.4;
  o.cosine = false;
  o.lr = 0.01;
  const auto s = make_schedules(o);
  for (double v : s.lr) CHECK(v == 0.01);  // sched none: unscaled and constant
  CHECK_THAT(s.wd.front(), WithinRel(0.04, 1e-12));
  CHECK(s.wd.back() > 0.04);
  CHECK(s.wd.back() < 0.4);
}

TEST_CASE("invalid schedules are usage errors", "[train][schedule]") {
  CHECK_THROWS_AS(cosine_schedule(1, 0, 1, 0), dfer::UsageError);
  CHECK_THROWS_AS(cosine_schedule(1, 0, 0, 5), dfer::UsageError);
  CHECK_THROWS_AS(cosine_schedule(1, 0, 2, 5, 3), dfer::UsageError);  // warm-up > schedule
  CHECK_NOTHROW(cosine_schedule(1, 0, 2, 5, 2));                      // all warm-up
}
