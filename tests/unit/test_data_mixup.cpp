// Mixup / CutMix: soft targets sum to one and follow lambda, cutmix boxes come from the partner
// in every frame and correct lambda, per-element mode.
#include <catch2/catch.hpp>

#include "dfer/data/mixup.h"
#include "dfer/util/error.h"

using namespace dfer::data;

TEST_CASE("mixup: soft targets sum to one and match lambda") {
  MixupOptions o;
  o.cutmix_alpha = 0.0;
  o.num_classes = 5;
  const Mixup mix(o);
  const torch::Tensor x = torch::rand({4, 3, 2, 8, 8});
  const torch::Tensor labels = torch::tensor({0, 1, 2, 3}, torch::kLong);
  Rng rng(11);
  const MixupResult r = mix(x.clone(), labels, rng);
  const double lam = r.lam[0].item<double>();
  CHECK_FALSE(r.cutmix);
  CHECK(torch::allclose(r.targets.sum(1), torch::ones({4}), 1e-6, 1e-6));
  CHECK(torch::allclose(r.clips, x * lam + x.flip({0}) * (1.0 - lam), 1e-5, 1e-5));
  // Row 0: label 0 with weight lam, partner label 3 with 1 - lam; on = 0.92, off = 0.02.
  CHECK(r.targets[0][0].item<double>() == Approx(lam * 0.92 + (1 - lam) * 0.02).epsilon(1e-5));
  CHECK(r.targets[0][3].item<double>() == Approx(lam * 0.02 + (1 - lam) * 0.92).epsilon(1e-5));
  CHECK(r.targets[0][1].item<double>() == Approx(0.02).epsilon(1e-5));

  MixupOptions off = o;
  off.prob = 0.0;
  const MixupResult none = Mixup(off)(x.clone(), labels, rng);
  CHECK(torch::equal(none.clips, x));
  CHECK(torch::allclose(none.targets, smoothed_one_hot(labels, 5, 0.1)));
  CHECK_THROWS_AS(mix(torch::rand({3, 3, 2, 8, 8}), torch::tensor({0, 1, 2}), rng), dfer::Error);
  MixupOptions disabled;
  disabled.mixup_alpha = disabled.cutmix_alpha = 0.0;
  CHECK_FALSE(mixup_enabled(disabled));
  CHECK_THROWS_AS(Mixup(disabled), dfer::UsageError);
}

TEST_CASE("cutmix: box from the partner in every frame, lambda corrected to the box area") {
  MixupOptions o;
  o.mixup_alpha = 0.0;
  o.num_classes = 3;
  const Mixup mix(o);
  // Sample i is filled with the value i, so every pixel tells where it came from.
  const torch::Tensor x = torch::arange(4, torch::kFloat32)
                              .view({4, 1, 1, 1, 1})
                              .expand({4, 2, 3, 20, 30})
                              .contiguous();
  const torch::Tensor labels = torch::tensor({0, 1, 2, 0}, torch::kLong);
  int mixed = 0;
  for (uint64_t s = 0; s < 20; ++s) {
    Rng rng(s);
    const MixupResult r = mix(x.clone(), labels, rng);
    const double lam = r.lam[0].item<double>();
    for (int64_t i = 0; i < 4; ++i) {
      const torch::Tensor from_partner = (r.clips[i] == static_cast<float>(3 - i));
      // The same pixels in every channel and frame.
      REQUIRE(torch::equal(from_partner, from_partner[0][0].expand_as(from_partner)));
      const double frac = from_partner[0][0].to(torch::kFloat64).mean().item<double>();
      CHECK(frac == Approx(1.0 - lam).margin(1e-6));  // lam is stored as float32
    }
    CHECK(torch::allclose(r.targets.sum(1), torch::ones({4}), 1e-6, 1e-6));
    mixed += r.cutmix;
  }
  CHECK(mixed > 0);
  // Box helper: minmax boxes stay inside and set lambda from their area.
  Rng rng(5);
  for (int i = 0; i < 50; ++i) {
    const CutmixBox b = cutmix_box(20, 30, 0.5, std::array<double, 2>{0.2, 0.8}, true, rng);
    CHECK((b.y0 >= 0 && b.y1 <= 20 && b.x0 >= 0 && b.x1 <= 30 && b.y1 > b.y0 && b.x1 > b.x0));
    CHECK(b.lam == Approx(1.0 - (b.y1 - b.y0) * (b.x1 - b.x0) / 600.0));
  }
}

TEST_CASE("elementwise mixup gives per-sample lambdas") {
  MixupOptions o;
  o.mode = parse_mix_mode("elem");
  o.num_classes = 4;
  Rng rng(2);
  const torch::Tensor labels = torch::tensor({0, 1, 2, 3, 1, 2}, torch::kLong);
  const MixupResult r = Mixup(o)(torch::rand({6, 3, 2, 8, 8}), labels, rng);
  CHECK(r.lam.size(0) == 6);
  CHECK(torch::allclose(r.targets.sum(1), torch::ones({6}), 1e-6, 1e-6));
  CHECK_THROWS_AS(parse_mix_mode("row"), dfer::UsageError);
}
