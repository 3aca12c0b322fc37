// RandAugment: config strings (incl. the inc0 quirk of SPEC 8.29), level mappings (SPEC 3.3.4),
// one draw of ops shared by every frame.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "dfer/data/rand_augment.h"
#include "dfer/util/error.h"

using namespace dfer::data;

namespace {

torch::Tensor ramp_clip(int64_t T, int64_t H, int64_t W) {
  return torch::arange(T * H * W * 3, torch::kLong)
      .remainder(251)
      .to(torch::kUInt8)
      .view({T, H, W, 3});
}

}  // namespace

TEST_CASE("RandAugment config strings") {
  const RandAugmentSpec s = parse_rand_augment("rand-m7-n4-mstd0.5-inc1");
  CHECK(s.magnitude == 7);
  CHECK(s.num_layers == 4);
  CHECK(s.magnitude_std == Approx(0.5));
  CHECK(s.increasing);
  // SPEC 8.29: the value of inc is never looked at, inc0 still selects the increasing ops.
  CHECK(parse_rand_augment("rand-m7-n4-mstd0.5-inc0").increasing);
  CHECK_FALSE(parse_rand_augment("rand-m9-n3").increasing);
  const RandAugmentSpec d = parse_rand_augment("rand");
  CHECK(d.magnitude == 10);
  CHECK(d.num_layers == 2);
  CHECK(d.magnitude_std == 0.0);
  for (const char* bad : {"", "augmix-m5", "randm7", "rand-m7.5", "rand-x3", "rand-m", "rand-w0",
                          "rand-mstd0.5x", "rand-n4-"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_rand_augment(bad), dfer::UsageError);
  }
  const auto& inc = rand_augment_op_list(true);
  REQUIRE(inc.size() == 15);
  CHECK(std::string(rand_op_name(inc[4])) == "PosterizeIncreasing");
  CHECK(std::string(rand_op_name(inc[14])) == "TranslateYRel");
  CHECK(rand_augment_op_list(false)[4] == RandOp::kPosterize);
}

TEST_CASE("RandAugment level mappings (SPEC 3.3.4)") {
  RandAugmentSpec spec;
  Rng rng(1);
  CHECK(rand_op_level(RandOp::kPosterizeIncreasing, 7.0, spec, rng) == 2);  // 4 - int(2.8)
  CHECK(rand_op_level(RandOp::kSolarizeIncreasing, 7.0, spec, rng) == 77);  // 256 - int(179.2)
  CHECK(rand_op_level(RandOp::kSolarizeAdd, 7.0, spec, rng) == 77);         // int(77.0)
  CHECK(rand_op_level(RandOp::kPosterize, 7.0, spec, rng) == 2);            // int(2.8)
  CHECK(rand_op_level(RandOp::kColor, 5.0, spec, rng) == Approx(1.0));      // 0.5 * 1.8 + 0.1
  CHECK(std::abs(rand_op_level(RandOp::kRotate, 10.0, spec, rng)) == Approx(30.0));
  CHECK(std::abs(rand_op_level(RandOp::kShearX, 7.0, spec, rng)) == Approx(0.21));
  CHECK(std::abs(rand_op_level(RandOp::kTranslateYRel, 7.0, spec, rng)) == Approx(0.315));
  std::set<double> factors;
  for (int i = 0; i < 50; ++i)
    factors.insert(rand_op_level(RandOp::kContrastIncreasing, 7.0, spec, rng));
  const double l = 7.0 / 10.0 * 0.9;  // the same operations as the level function
  CHECK(factors == std::set<double>{1.0 - l, 1.0 + l});
}

TEST_CASE("RandAugment applies one draw of ops to every frame") {
  const RandAugmentSpec spec = parse_rand_augment("rand-m7-n4-mstd0.5-inc1");
  const torch::Tensor frame = ramp_clip(1, 12, 12);
  const torch::Tensor clip = frame.expand({4, 12, 12, 3}).contiguous();
  int applied = 0;
  for (uint64_t seed = 0; seed < 12; ++seed) {
    Rng rng(seed);
    std::vector<AppliedRandOp> trace;
    const torch::Tensor out = rand_augment(clip, spec, rng, &trace);
    REQUIRE(out.sizes() == clip.sizes());
    REQUIRE(out.scalar_type() == torch::kUInt8);
    for (int64_t t = 1; t < 4; ++t) REQUIRE(torch::equal(out[t], out[0]));
    for (const AppliedRandOp& op : trace) {
      CHECK((op.magnitude >= 0.0 && op.magnitude <= 10.0));
      CHECK(std::find(rand_augment_op_list(true).begin(), rand_augment_op_list(true).end(),
                      op.op) != rand_augment_op_list(true).end());
    }
    applied += static_cast<int>(trace.size());
  }
  // 48 draws at p = 0.5: some but not all applied.
  CHECK(applied > 10);
  CHECK(applied < 40);
}
