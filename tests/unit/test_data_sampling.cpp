// Temporal sampling pinned against worked examples of SPEC 2.5, 3.3.2, 3.5, 5.2, SPEC-later b,
// and the seeded distributions underneath.
#include <catch2/catch.hpp>

#include <cmath>
#include <set>

#include "dfer/data/random.h"
#include "dfer/data/sampling.h"
#include "dfer/util/error.h"

using namespace dfer::data;
using V = std::vector<int64_t>;

TEST_CASE("train sampling, long video: 16 points over the 64-frame span ending at end") {
  // n = 100, r = 4, L = 64. end = 80 -> start 16, step 64/15, last point clipped to end - 1.
  CHECK(train_clip_indices_ending_at(100, 16, 4, 80) ==
        V{16, 20, 24, 28, 33, 37, 41, 45, 50, 54, 58, 62, 67, 71, 75, 79});
  CHECK(train_clip_indices_ending_at(100, 16, 4, 64) ==
        V{0, 4, 8, 12, 17, 21, 25, 29, 34, 38, 42, 46, 51, 55, 59, 63});
  CHECK_THROWS_AS(train_clip_indices_ending_at(100, 16, 4, 63), dfer::Error);
  CHECK_THROWS_AS(train_clip_indices_ending_at(100, 16, 4, 100), dfer::Error);
}

TEST_CASE("train sampling, random end is uniform in [L, n-1]") {
  Rng rng(1);
  std::set<int64_t> ends;
  for (int i = 0; i < 2000; ++i) {
    const V idx = train_clip_indices(100, 16, 4, rng);
    REQUIRE(idx.size() == 16);
    const int64_t end = idx.back() + 1;  // the last point is end clipped to end - 1
    CHECK(idx == train_clip_indices_ending_at(100, 16, 4, end));
    ends.insert(end);
  }
  CHECK(*ends.begin() == 64);
  CHECK(*ends.rbegin() == 99);
  CHECK(ends.size() == 36);
}

TEST_CASE("train sampling, short video: linspace over the whole clip, padded with the last frame") {
  Rng rng(2);
  // n = 30 <= 64: floor(linspace(0, 30, 30 // 4 = 7)) = 0 5 10 15 20 25 30 -> 30 clipped to 29.
  CHECK(train_clip_indices(30, 16, 4, rng) ==
        V{0, 5, 10, 15, 20, 25, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29});
  // n = L exactly takes the short branch: 16 points of linspace(0, 64), the last clipped.
  CHECK(train_clip_indices(64, 16, 4, rng) ==
        V{0, 4, 8, 12, 17, 21, 25, 29, 34, 38, 42, 46, 51, 55, 59, 63});
  // n < r: no linspace point at all, every entry is the last frame.
  CHECK(train_clip_indices(3, 16, 4, rng) == V(16, 2));
  CHECK(train_clip_indices(1, 16, 4, rng) == V(16, 0));
}

TEST_CASE("train sampling, segments and bad arguments") {
  Rng rng(3);
  // Two segments of 30 frames (L = 32): linspace(0, 30, 3) = 0 15 30 -> 29, padded; the second
  // segment is offset by 30.
  CHECK(train_clip_indices(60, 4, 8, rng, 2) == V{0, 15, 29, 29, 30, 45, 59, 59});
  CHECK_THROWS_AS(train_clip_indices(0, 16, 4, rng), dfer::Error);
  CHECK_THROWS_AS(train_clip_indices(1, 16, 4, rng, 2), dfer::Error);
  CHECK_THROWS_AS(train_clip_indices(100, 16, 0, rng), dfer::Error);
  CHECK_THROWS_AS(train_clip_indices(100, 0, 4, rng), dfer::Error);
}

TEST_CASE("pre-training sampling: stride exactly r from a uniform start, short-video rule") {
  CHECK(pretrain_clip_indices_from(300, 16, 4, 10) ==
        V{10, 14, 18, 22, 26, 30, 34, 38, 42, 46, 50, 54, 58, 62, 66, 70});
  // n = 30: steps stop once index + 4 would reach n - 1 = 29, so 28 repeats.
  CHECK(pretrain_clip_indices_from(30, 16, 4, 0) ==
        V{0, 4, 8, 12, 16, 20, 24, 28, 28, 28, 28, 28, 28, 28, 28, 28});
  // n = 29: 28 would be the last frame itself, never reached by a step.
  CHECK(pretrain_clip_indices_from(29, 16, 4, 0) ==
        V{0, 4, 8, 12, 16, 20, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24});
  Rng rng(4);
  // n = 64 and n = 63 both start at 0 (one possible start, resp. the short-video rule).
  CHECK(pretrain_clip_indices(64, 16, 4, rng).front() == 0);
  CHECK(pretrain_clip_indices(63, 16, 4, rng) ==
        V{0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60});
  std::set<int64_t> starts;
  for (int i = 0; i < 3000; ++i) {
    const V idx = pretrain_clip_indices(100, 16, 4, rng);
    REQUIRE(idx.back() - idx.front() == 60);
    starts.insert(idx.front());
  }
  CHECK(*starts.begin() == 0);
  CHECK(*starts.rbegin() == 36);  // n - 64
  CHECK(starts.size() == 37);
  CHECK_THROWS_AS(pretrain_clip_indices(0, 16, 4, rng), dfer::Error);
}

TEST_CASE("test views: all frames at stride r, first and last 16 of them") {
  // n = 80, r = 4: 20 sampled frames 0..76; two segments start at 0 and int(1 * 4 / 1) = 4.
  const V all = test_frame_indices(80, 4, 16);
  REQUIRE(all.size() == 20);
  CHECK(all.back() == 76);
  CHECK(test_view_indices(80, 4, 16, 2, 0) ==
        V{0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60});
  CHECK(test_view_indices(80, 4, 16, 2, 1) ==
        V{16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68, 72, 76});
  // Three segments: step (20 - 16) / 2 = 2 -> starts 0, 2, 4.
  CHECK(test_temporal_start(20, 16, 3, 1) == 2);
  CHECK(test_view_indices(80, 4, 16, 3, 1).front() == 8);
  CHECK(test_temporal_start(20, 16, 5, 3) == 3);  // int(3 * 4 / 4)
  CHECK(test_temporal_start(23, 16, 3, 1) == 3);  // int(1 * 3.5)
  // n = 10: 0 4 8 padded with 8; both views are the same 16 frames.
  const V short_view = {0, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8};
  CHECK(test_view_indices(10, 4, 16, 2, 0) == short_view);
  CHECK(test_view_indices(10, 4, 16, 2, 1) == short_view);
  // One segment (the reference divides by zero) starts at 0.
  CHECK(test_temporal_start(20, 16, 1, 0) == 0);
  CHECK_THROWS_AS(test_temporal_start(20, 16, 2, 2), dfer::Error);
  CHECK_THROWS_AS(test_frame_indices(0, 4, 16), dfer::Error);
}

TEST_CASE("test spatial crop offsets") {
  CHECK(test_spatial_start(160, 160, 2, 1) == 0);  // square frames: both crops are the frame
  CHECK(test_spatial_start(200, 160, 3, 1) == 20);
  CHECK(test_spatial_start(200, 160, 3, 2) == 40);
  CHECK(test_spatial_start(200, 160, 1, 0) == 0);
  CHECK_THROWS_AS(test_spatial_start(200, 160, 2, 2), dfer::Error);
}

TEST_CASE("gaze clip: walk back from the labelled frame, stop at a gap, pad at the front") {
  auto exists = [](int64_t f) { return (f >= 5 && f <= 20) || (f >= 23 && f <= 30); };
  CHECK(gaze_clip_frames(30, 16, exists) ==
        V{23, 23, 23, 23, 23, 23, 23, 23, 23, 24, 25, 26, 27, 28, 29, 30});
  V full(16);
  for (int i = 0; i < 16; ++i) full[i] = 5 + i;
  CHECK(gaze_clip_frames(20, 16, exists) == full);
  CHECK(gaze_clip_frames(6, 4, exists) == V{5, 5, 5, 6});
  CHECK_THROWS_AS(gaze_clip_frames(22, 16, exists), dfer::Error);
}

TEST_CASE("per-sequence windows (clip_stride)") {
  Rng rng(5);
  CHECK(sequence_window_starts(40, 16, 1, 8, rng) == V{0, 8, 16, 24});
  CHECK(sequence_window_starts(16, 16, 1, 8, rng) == V{0});
  CHECK(sequence_window_starts(15, 16, 1, 8, rng).empty());
  CHECK(sequence_window_starts(40, 16, 2, 1, rng) == V{0, 1, 2, 3, 4, 5, 6, 7, 8});
  for (int i = 0; i < 100; ++i) {
    const V one = sequence_window_starts(40, 16, 1, kRandomWindowStride, rng);
    REQUIRE(one.size() == 1);
    CHECK((one[0] >= 0 && one[0] <= 24));
  }
  CHECK(sequence_window_indices(8, 4, 2) == V{8, 10, 12, 14});
  CHECK_THROWS_AS(sequence_window_starts(40, 16, 1, 0, rng), dfer::Error);
}

TEST_CASE("seeded distributions") {
  Rng a(42), b(42);
  for (int i = 0; i < 10; ++i) CHECK(uniform01(a) == uniform01(b));
  Rng rng(7);
  std::set<int64_t> seen;
  double sum_u = 0, sum_n = 0, sum_n2 = 0, sum_b = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const int64_t v = randint(rng, -2, 3);
    REQUIRE((v >= -2 && v <= 3));
    seen.insert(v);
    const double u = uniform01(rng);
    REQUIRE((u >= 0.0 && u < 1.0));
    sum_u += u;
    const double g = normal(rng, 1.0, 2.0);
    sum_n += g;
    sum_n2 += (g - 1.0) * (g - 1.0);
    const double x = beta(rng, 0.8, 0.8);
    REQUIRE((x >= 0.0 && x <= 1.0));
    sum_b += x;
  }
  CHECK(seen.size() == 6);
  CHECK(sum_u / n == Approx(0.5).margin(0.01));
  CHECK(sum_n / n == Approx(1.0).margin(0.05));
  CHECK(std::sqrt(sum_n2 / n) == Approx(2.0).margin(0.05));
  CHECK(sum_b / n == Approx(0.5).margin(0.01));
  double sum_g = 0;
  for (int i = 0; i < n; ++i) sum_g += gamma(rng, 0.5);
  CHECK(sum_g / n == Approx(0.5).margin(0.03));
  CHECK(randint(rng, 5, 5) == 5);
  // Sample seeds depend on every coordinate, and on their order.
  CHECK(sample_seed(0, 1, 2) != sample_seed(0, 2, 1));
  CHECK(sample_seed(0, 0, 1) != sample_seed(1, 0, 1));
  CHECK(sample_seed(3, 4, 5) == sample_seed(3, 4, 5));
}
