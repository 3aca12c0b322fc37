// dense() under a PackedWeightScope against at::linear: the same bits for whole weights, row
// slices, 2-D and 3-D inputs, with and without a bias, and for whole models in evaluation; one
// packing per weight, a new one after an in-place change, none where the plain path must run.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "dfer/models/build.h"
#include "dfer/models/packed_linear.h"
#include "support/cpu_autocast.h"

using namespace dfer::models;
using dfer::test::CpuAutocast;

namespace {

// The packed route needs oneDNN's bf16 inner product, which LibTorch allows with AVX-512 (BW, VL,
// DQ), as every machine this suite is built and tested on has (and on some CPUs without it).
bool cpu_can_pack() {
  return __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512dq");
}

ModelSpec small_spec(const std::string& attn_type) {
  ModelSpec s = released_finetune_spec(5);
  s.attn_type = attn_type;
  s.img_size = 32;
  s.patch_size = 8;
  s.num_frames = 4;
  s.embed_dim = 64;
  s.num_heads = 2;
  s.depth = 2;
  s.lg_region_size = {1, 2, 2};
  s.drop_path_rate = 0.0;
  return s;
}

}  // namespace

TEST_CASE("dense() with packed weights gives at::linear's bits", "[models][packed]") {
  if (cpu_can_pack()) REQUIRE(packed_linear_available());
  if (!packed_linear_available()) return;
  torch::manual_seed(3);
  const auto w = torch::randn({96, 64}).mul_(0.1).requires_grad_(true);
  const auto b = torch::randn({96}).requires_grad_(true);
  const auto x3 = torch::randn({16, 101, 64}), x2 = torch::randn({37, 64});
  torch::NoGradGuard no_grad;
  CpuAutocast autocast;
  struct Case {
    torch::Tensor x, bias;
    int64_t row0, rows;
  };
  const std::vector<Case> cases{{x3, b, 0, -1},   {x3, {}, 0, -1},
                                {x2, b, 0, -1},   {x3, {}, 0, 32},
                                {x2, {}, 32, 64}, {x3, b.narrow(0, 0, 32), 64, 32}};
  std::vector<torch::Tensor> plain;
  for (const auto& c : cases) plain.push_back(dense(c.x, w, c.bias, c.row0, c.rows));
  PackedWeightScope scope;
  for (int pass = 0; pass < 2; ++pass)
    for (size_t i = 0; i < cases.size(); ++i) {
      const auto& c = cases[i];
      const auto y = dense(c.x, w, c.bias, c.row0, c.rows);
      CAPTURE(pass, i);
      CHECK(y.scalar_type() == torch::kBFloat16);
      CHECK(y.sizes() == plain[i].sizes());
      CHECK(torch::equal(y, plain[i]));
    }
  // One packing per (weight, rows): whole, [0, 32), [32, 96), [64, 96); none in the second pass.
  CHECK(scope.packed_count() == 4);

  // An in-place change moves the version counter: the weight is packed again, with the new values.
  w.mul_(2.0);
  const auto y = dense(x3, w, b);
  CHECK(scope.packed_count() == 4);
  {
    at::autocast::clear_cache();  // at::linear's own cast must see the new values too
    CHECK(torch::equal(y, at::linear(x3, w, b)));
  }
}

TEST_CASE("dense() packs nothing where at::linear must run", "[models][packed]") {
  torch::manual_seed(4);
  const auto w = torch::randn({48, 32}).requires_grad_(true);
  const auto x = torch::randn({8, 32});
  PackedWeightScope scope;
  SECTION("grad mode on: the product is recorded for backward") {
    CpuAutocast autocast;
    const auto y = dense(x, w, {});
    CHECK(y.requires_grad());
  }
  SECTION("no autocast: fp32 stays fp32") {
    torch::NoGradGuard no_grad;
    CHECK(torch::equal(dense(x, w, {}), at::linear(x, w, {})));
  }
  SECTION("a non-contiguous input") {
    torch::NoGradGuard no_grad;
    CpuAutocast autocast;
    const auto xt = torch::randn({32, 8}).t();
    CHECK(torch::equal(dense(xt, w, {}), at::linear(xt, w, {})));
  }
  SECTION("packing switched off (bench --linear plain)") {
    torch::NoGradGuard no_grad;
    CpuAutocast autocast;
    set_weight_packing(false);
    const auto y = dense(x, w, {});
    set_weight_packing(true);
    CHECK(torch::equal(y, at::linear(x, w, {})));
  }
  SECTION("an empty batch") {
    torch::NoGradGuard no_grad;
    CpuAutocast autocast;
    CHECK(dense(torch::randn({0, 32}), w, {}).sizes() == torch::IntArrayRef{0, 48});
  }
  CHECK(scope.packed_count() == 0);
}

TEST_CASE("scopes do not nest: the inner one is inert", "[models][packed]") {
  if (!packed_linear_available()) return;
  const auto w = torch::randn({16, 16});
  torch::NoGradGuard no_grad;
  CpuAutocast autocast;
  PackedWeightScope outer;
  {
    PackedWeightScope inner;
    dense(torch::randn({4, 16}), w, {});
    CHECK(inner.packed_count() == 0);
  }
  dense(torch::randn({4, 16}), w, {});
  CHECK(outer.packed_count() == 1);
}

TEST_CASE("models evaluate to the same bits with packed weights", "[models][packed]") {
  if (!packed_linear_available()) return;
  for (const std::string attn : {"local_global", "joint"}) {
    CAPTURE(attn);
    torch::manual_seed(5);
    auto model = build_classifier(small_spec(attn));
    model->eval();
    {
      torch::NoGradGuard g;  // non-zero biases everywhere (they start at 0)
      for (auto& p : model->parameters()) p.add_(torch::randn_like(p) * 0.05);
    }
    const auto clips = torch::randn({2, 3, 4, 32, 32});
    torch::NoGradGuard no_grad;
    CpuAutocast autocast;
    const auto plain = model->forward(clips);
    PackedWeightScope scope;
    const auto packed = model->forward(clips);
    CHECK(scope.packed_count() > 0);
    CHECK(torch::equal(packed, plain));
  }
}
