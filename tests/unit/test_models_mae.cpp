// MAE target construction (per-patch normalisation, frame difference, labels) and loss variants
// on small synthetic clips, checked against direct per-patch arithmetic.
#include <catch2/catch.hpp>

#include "dfer/models/mae_target.h"
#include "dfer/util/error.h"

using namespace dfer::models;

namespace {

// ImageNet-normalise a [0,1] clip the way the data pipeline does.
torch::Tensor normalise(const torch::Tensor& raw) {
  auto mean = torch::tensor({0.485, 0.456, 0.406}, torch::kFloat32).view({1, 3, 1, 1, 1});
  auto std = torch::tensor({0.229, 0.224, 0.225}, torch::kFloat32).view({1, 3, 1, 1, 1});
  return (raw - mean) / std;
}

}  // namespace

TEST_CASE("MAE targets: per-patch normalisation and frame difference", "[models][mae]") {
  torch::manual_seed(21);
  auto raw = torch::randint(0, 256, {1, 3, 4, 8, 8}).to(torch::kFloat32) / 255.0;
  auto video = normalise(raw);
  auto mask = torch::zeros({1, 2 * 2 * 2}, torch::kBool);
  mask[0][1] = true;
  mask[0][6] = true;
  MaeTargetOptions opt;
  opt.patch_size = 4;
  auto t = compute_mae_targets(video, mask, opt);
  REQUIRE(t.appearance.sizes() == torch::IntArrayRef({1, 8, 96}));
  REQUIRE(t.all.sizes() == torch::IntArrayRef({1, 8, 96}));
  REQUIRE(t.labels.sizes() == torch::IntArrayRef({1, 2, 96}));
  CHECK(torch::equal(t.labels[0][0], t.all[0][1]));
  CHECK(torch::equal(t.labels[0][1], t.all[0][6]));

  // Token 5 = (t 1, h 0, w 1): frames 2-3, rows 0-3, cols 4-7. Check one value per half.
  auto un = video * torch::tensor({0.229, 0.224, 0.225}).view({1, 3, 1, 1, 1}) +
            torch::tensor({0.485, 0.456, 0.406}).view({1, 3, 1, 1, 1});
  auto patch = un[0].slice(1, 2, 4).slice(2, 0, 4).slice(3, 4, 8);  // (3, 2, 4, 4)
  for (int c = 0; c < 3; ++c) {
    auto vals = patch[c];
    auto mu = vals.mean().item<double>();
    auto sd = vals.std(/*unbiased=*/true).item<double>();
    // (p0, p1, p2, c) layout: index = ((p0*4 + p1)*4 + p2)*3 + c
    double a = (vals[0][1][2].item<double>() - mu) / (sd + 1e-6);
    double b = (vals[1][1][2].item<double>() - mu) / (sd + 1e-6);
    CHECK(t.appearance[0][5][((0 * 4 + 1) * 4 + 2) * 3 + c].item<double>() ==
          Approx(a).margin(1e-5));
    CHECK(t.all[0][5][((0 * 4 + 1) * 4 + 2) * 3 + c].item<double>() == Approx(a).margin(1e-5));
    CHECK(t.all[0][5][((1 * 4 + 1) * 4 + 2) * 3 + c].item<double>() == Approx(b - a).margin(1e-5));
  }
  // First half of every token is unchanged appearance.
  CHECK(torch::equal(t.all.narrow(-1, 0, 48), t.appearance.narrow(-1, 0, 48)));

  opt.use_frame_diff = false;
  CHECK(torch::equal(compute_mae_targets(video, mask, opt).all, t.appearance));
  opt.normalize_target = false;
  auto plain = compute_mae_targets(video, mask, opt);
  CHECK(plain.all[0][5][((1 * 4 + 1) * 4 + 2) * 3 + 0].item<double>() ==
        Approx(patch[0][1][1][2].item<double>()).margin(1e-6));
}

TEST_CASE("MAE loss and its weighted variant", "[models][mae]") {
  torch::manual_seed(22);
  auto out = torch::randn({2, 5, 12}), lab = torch::randn({2, 5, 12});
  MaeTargetOptions opt;
  auto l = mae_loss(out, lab, opt);
  CHECK(l.loss.item<double>() == Approx((out - lab).pow(2).mean().item<double>()).epsilon(1e-6));
  CHECK(l.loss.item<double>() ==
        Approx(0.5 * (l.loss_org.item<double>() + l.loss_diff.item<double>())).epsilon(1e-6));
  opt.target_diff_weight = 0.8;
  auto w = mae_loss(out, lab, opt);
  CHECK(w.loss.item<double>() ==
        Approx(0.2 * l.loss_org.item<double>() + 0.8 * l.loss_diff.item<double>()).epsilon(1e-6));
  CHECK_THROWS_AS(mae_loss(out, lab.narrow(1, 0, 4), opt), dfer::Error);
}

TEST_CASE("MAE targets reject bad inputs", "[models][mae]") {
  MaeTargetOptions opt;
  opt.patch_size = 4;
  auto video = torch::zeros({1, 3, 4, 8, 8});
  CHECK_THROWS_AS(compute_mae_targets(video, torch::zeros({1, 7}, torch::kBool), opt), dfer::Error);
  CHECK_THROWS_AS(compute_mae_targets(torch::zeros({1, 3, 3, 8, 8}), torch::zeros({1, 8}), opt),
                  dfer::Error);
  CHECK_THROWS_AS(compute_mae_targets(torch::zeros({3, 4, 8, 8}), torch::zeros({1, 8}), opt),
                  dfer::Error);
}
