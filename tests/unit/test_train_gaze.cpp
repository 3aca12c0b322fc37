// Unit tests of the gaze task: angular error, pitch/yaw conventions, the L2CS bins, expectation
// and loss, the combine loss, and frozen / LoRA training that leaves frozen weights bitwise equal.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "dfer/config/config.h"
#include "dfer/models/build.h"
#include "dfer/train/gaze_losses.h"
#include "dfer/train/model_factory.h"
#include "dfer/train/optimizer.h"
#include "dfer/train/param_groups.h"
#include "dfer/train/task.h"
#include "dfer/train/trainable.h"
#include "dfer/util/gaze.h"
#include "support/fixtures.h"

using namespace dfer::train;

namespace {
constexpr double kPi = 3.14159265358979323846;

torch::Tensor py(double p, double y) {
  return torch::tensor({p, y}, torch::kDouble);
}
}  // namespace

TEST_CASE("angular error on hand-computed cases", "[train][gaze]") {
  CHECK(angular_error_deg(py(0, 0), py(0, 0)).item<double>() == Approx(0).margin(1e-6));
  CHECK(angular_error_deg(py(0, 0), py(0, kPi / 2)).item<double>() == Approx(90).margin(1e-9));
  CHECK(angular_error_deg(py(0, 0), py(kPi / 2, 0)).item<double>() == Approx(90).margin(1e-9));
  CHECK(angular_error_deg(py(0, 0), py(0, kPi)).item<double>() == Approx(180).margin(1e-6));
  CHECK(angular_error_deg(py(0.3, -0.2), py(0.3, -0.2)).item<double>() == Approx(0).margin(1e-5));
  // Random directions against the double-precision formula of util/gaze.h.
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> up(-1.5, 1.5), uy(-3.1, 3.1);
  auto a = torch::empty({200, 2}, torch::kDouble), b = torch::empty({200, 2}, torch::kDouble);
  for (int i = 0; i < 200; ++i) {
    a[i][0] = up(rng), a[i][1] = uy(rng), b[i][0] = up(rng), b[i][1] = uy(rng);
  }
  auto e = angular_error_deg(a.to(torch::kFloat), b.to(torch::kFloat));
  for (int i = 0; i < 200; ++i) {
    const double ref = dfer::angular_error_deg(a[i][0].item<double>(), a[i][1].item<double>(),
                                               b[i][0].item<double>(), b[i][1].item<double>());
    CHECK(e[i].item<double>() == Approx(ref).margin(2e-3));  // float32 inputs
  }
}

TEST_CASE("pitch/yaw <-> gaze vector round trip", "[train][gaze]") {
  auto c = dfer::gaze_vector_to_pitch_yaw(0, 0, -1);
  CHECK(c.pitch == Approx(0).margin(1e-12));
  CHECK(c.yaw == Approx(0).margin(1e-12));
  CHECK(dfer::gaze_vector_to_pitch_yaw(1, 0, 0).yaw == Approx(kPi / 2));
  CHECK(dfer::gaze_vector_to_pitch_yaw(0, 1, 0).pitch == Approx(kPi / 2));
  CHECK(dfer::gaze_vector_to_pitch_yaw(0, 1, 0).yaw == Approx(0).margin(1e-12));
  CHECK(dfer::gaze_vector_to_pitch_yaw(0, 2, 0).pitch == Approx(kPi / 2));  // |y| > 1: clamped
  std::mt19937 rng(9);
  std::uniform_real_distribution<double> up(-1.5, 1.5), uy(-3.1, 3.1);
  for (int i = 0; i < 100; ++i) {
    const double p = up(rng), y = uy(rng);
    auto v = dfer::pitch_yaw_to_gaze_vector(p, y);
    CHECK(v[0] * v[0] + v[1] * v[1] + v[2] * v[2] == Approx(1));
    auto back = dfer::gaze_vector_to_pitch_yaw(3 * v[0], 3 * v[1], 3 * v[2]);
    CHECK(back.pitch == Approx(p).margin(1e-9));
    CHECK(back.yaw == Approx(y).margin(1e-9));
  }
  CHECK(std::string(dfer::gaze_label_problem(0.1, 0.2)).empty());
  CHECK_FALSE(std::string(dfer::gaze_label_problem(NAN, 0)).empty());
  CHECK_FALSE(std::string(dfer::gaze_label_problem(1.6, 0)).empty());
  CHECK_FALSE(std::string(dfer::gaze_label_problem(0, 45)).empty());
}

TEST_CASE("L2CS bins and expectation on worked examples", "[train][gaze]") {
  L2csOptions o;  // 90 bins of 2 degrees over [-90, 90)
  auto deg = [](double d) { return d * kPi / 180; };
  auto bins = l2cs_bins(torch::tensor({deg(0), deg(-90), deg(-89.5), deg(1.9), deg(-0.1),
                                       deg(89.99), deg(120), deg(-120)},
                                      torch::kDouble),
                        o);
  std::vector<int64_t> want = {45, 0, 0, 45, 44, 89, 89, 0};
  for (size_t i = 0; i < want.size(); ++i) CHECK(bins[i].item<int64_t>() == want[i]);
  // All mass on bin 45 ([0, 2) degrees): the expectation is its centre, 1 degree (the reference's
  // left edge would say 0).
  auto logits = torch::full({90}, -1e4);
  logits[45] = 0;
  CHECK(l2cs_expectation(logits, o).item<double>() == Approx(deg(1)).margin(1e-6));
  // Uniform logits: the mean of all centres, 0.
  CHECK(l2cs_expectation(torch::zeros({90}), o).item<double>() == Approx(0).margin(1e-6));
  // Two equal bins 44 and 45: centres -1 and +1 -> 0.
  logits = torch::full({90}, -1e4);
  logits[44] = 0;
  logits[45] = 0;
  CHECK(l2cs_expectation(logits, o).item<double>() == Approx(0).margin(1e-6));
}

TEST_CASE("L2CS loss = CE + CE + alpha (MSE + MSE)", "[train][gaze]") {
  L2csOptions o;
  o.num_bins = 4;
  o.bin_width_deg = 10;  // bins [-20,-10) [-10,0) [0,10) [10,20); centres -15 -5 5 15
  o.alpha_reg = 0.5;
  auto logits = torch::tensor({{0.0, 1.0, 2.0, 0.0, /*yaw*/ 3.0, 0.0, 0.0, 0.0}});
  const double d = kPi / 180;
  auto target = torch::tensor({{2 * d, -12 * d}});  // pitch bin 2, yaw bin 0
  auto lp = torch::log_softmax(torch::tensor({0.0, 1.0, 2.0, 0.0}), 0);
  auto ly = torch::log_softmax(torch::tensor({3.0, 0.0, 0.0, 0.0}), 0);
  auto pp = lp.exp(), pyw = ly.exp();
  auto c = torch::tensor({-15.0, -5.0, 5.0, 15.0}) * d;
  const double ep = (pp * c).sum().item<double>(), ey = (pyw * c).sum().item<double>();
  const double want = -lp[2].item<double>() - ly[0].item<double>() +
                      0.5 * ((ep - 2 * d) * (ep - 2 * d) + (ey + 12 * d) * (ey + 12 * d));
  CHECK(l2cs_loss(logits, target, o).item<double>() == Approx(want).epsilon(1e-5));
  auto decoded = decode_gaze(logits, true, o);
  CHECK(decoded[0][0].item<double>() == Approx(ep).epsilon(1e-5));
  CHECK(decoded[0][1].item<double>() == Approx(ey).epsilon(1e-5));
}

TEST_CASE("combine loss = alpha CE + MSE over all frames", "[train][gaze]") {
  auto logits = torch::tensor({{{2.0, 0.0}, {0.0, 1.0}}});  // (B=1, T=2, C=2)
  auto labels = torch::tensor({{0, 0}}, torch::kLong);
  auto gaze = torch::tensor({{{0.1, 0.2}, {0.0, 0.0}}});
  auto target = torch::tensor({{{0.0, 0.2}, {0.0, 0.4}}});
  const double ce = (std::log(1 + std::exp(-2.0)) + std::log(1 + std::exp(1.0))) / 2;
  const double mse = (0.01 + 0.16) / 4;
  CHECK(combine_loss(logits, labels, gaze, target, 0.7).item<double>() ==
        Approx(0.7 * ce + mse).epsilon(1e-5));
  CHECK(combine_loss(logits, labels, gaze, target, 0.0).item<double>() ==
        Approx(mse).epsilon(1e-5));
}

TEST_CASE("frozen and LoRA training leave the frozen weights bitwise unchanged", "[train][gaze]") {
  for (bool lora : {false, true}) {
    auto s = dfer::models::spec_from_name("vit_base_dim512_no_depth_patch16_160");
    s.img_size = 32, s.patch_size = 8, s.num_frames = 4, s.embed_dim = 32, s.depth = 2;
    s.num_heads = 4, s.num_classes = 2, s.attn_type = "local_global", s.lg_region_size = {1, 2, 2};
    s.lg_classify_token_type = "org";
    s.decoder_hidden = 16;
    if (lora) s.lora_rank = 2;
    torch::manual_seed(1);
    auto m = dfer::models::build_finetune(s);
    auto counts = apply_trainable_policy(*m, /*freeze=*/true, lora);
    std::map<std::string, torch::Tensor> before;
    std::vector<std::pair<std::string, torch::Tensor>> trainable;
    int64_t n_lora = 0;
    for (auto& p : m->named_parameters()) {
      before[p.key()] = p.value().detach().clone();
      const bool head = p.key().rfind("head.", 0) == 0 || p.key().rfind("decoder.", 0) == 0;
      const bool adapter = p.key().find("lora_") != std::string::npos;
      CHECK(p.value().requires_grad() == (head || (lora && adapter)));
      if (adapter) ++n_lora;
      if (p.value().requires_grad()) trainable.emplace_back(p.key(), p.value());
    }
    CHECK(n_lora == (lora ? 3 * 3 * 2 * 2 : 0));
    CHECK(counts.trainable < counts.total);
    AdamW opt(build_param_groups(trainable, ParamGroupOptions{}), AdamWOptions{});
    for (int step = 0; step < 3; ++step) {
      opt.zero_grad();
      auto y = m->forward(torch::randn({2, 3, 4, 32, 32}));
      gaze_mse(y, torch::randn({2, 2})).backward();
      opt.step(1e-2, 0.05);
    }
    for (auto& p : m->named_parameters()) {
      const bool changed = !torch::equal(p.value(), before[p.key()]);
      INFO(p.key());
      CHECK(changed == p.value().requires_grad());
    }
  }
}

TEST_CASE("the original combine YAML and the shipped gaze YAML build the reference's heads",
          "[train][gaze]") {
  struct Case {
    std::string path;
    dfer::train::Task task;
  };
  std::vector<Case> cases = {{"configs/gaze360_finetune.yaml", Task::kGaze360},
                             {"configs/dfew_combine.yaml", Task::kCombine}};
  if (dfer::test::require_fixture("configs/dfew_combine.yaml"))
    cases.push_back(
        {(dfer::test::fixtures_root() / "configs/dfew_combine.yaml").string(), Task::kCombine});
  for (const auto& c : cases) {
    INFO(c.path);
    dfer::Config cfg;
    cfg.load_yaml_file(c.path);
    adapt_config_to_task(cfg, c.task);
    auto spec = model_spec_from_config(cfg);
    CHECK(spec.depth == 12);  // depth unset: the registry's 12 (SPEC 5.5)
    CHECK(spec.lg_region_size == std::array<int64_t, 3>{2, 2, 10});
    auto m = dfer::models::build_finetune(spec);
    auto params = m->named_parameters();
    if (c.task == Task::kCombine) {
      CHECK(spec.keep_temporal_dim);
      REQUIRE(params.find("head.reg.weight"));
      CHECK(params["head.reg.weight"].sizes() == torch::IntArrayRef({2, 512}));
      CHECK(params["head.cls.weight"].sizes() == torch::IntArrayRef({7, 512}));
    } else {
      CHECK(params["head.weight"].sizes() == torch::IntArrayRef({2, 512}));
    }
  }
  // A config whose task contradicts the executable is refused, an unset task takes the tool's.
  dfer::Config cfg;
  cfg.load_yaml_file("configs/dfew_combine.yaml");
  CHECK_THROWS_WITH(adapt_config_to_task(cfg, Task::kGaze360), Catch::Contains("dfer-combine"));
  dfer::Config plain;
  plain.load_yaml_file("configs/synth_finetune.yaml");
  adapt_config_to_task(plain, Task::kGaze360);
  CHECK(plain.get_string("data.task") == "regression");
}
