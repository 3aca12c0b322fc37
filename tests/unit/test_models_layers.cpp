// Unit tests of the model building blocks: position table, patch embedding, drop path, region
// partition, and the agreement of the fused and explicit attention kernels (values and grads).
#include <catch2/catch.hpp>

#include "dfer/models/attention.h"
#include "dfer/models/layers.h"
#include "dfer/models/vision_transformer.h"
#include "dfer/util/error.h"

using namespace dfer::models;

TEST_CASE("sinusoid table matches the SPEC check values", "[models][layers]") {
  auto t = sinusoid_table(800, 512);
  REQUIRE(t.sizes() == torch::IntArrayRef({1, 800, 512}));
  REQUIRE(t.scalar_type() == torch::kFloat32);
  auto a = t[0];
  CHECK(a[1][0].item<double>() == Approx(0.841471).margin(1e-6));
  CHECK(a[1][1].item<double>() == Approx(0.540302).margin(1e-6));
  CHECK(a[123][300].item<double>() == Approx(0.528969).margin(1e-6));
  CHECK(a[799][510].item<double>() == Approx(0.082732).margin(1e-6));
  CHECK(a[799][511].item<double>() == Approx(0.996572).margin(1e-6));
  CHECK(t.to(torch::kFloat64).sum().item<double>() == Approx(99256.11).margin(0.01));
  auto d = sinusoid_table(800, 384);
  CHECK(d.to(torch::kFloat64).sum().item<double>() == Approx(74329.90).margin(0.01));
  CHECK(d[0][5][100].item<double>() == Approx(0.438796).margin(1e-6));
  CHECK_THROWS_AS(sinusoid_table(0, 4), dfer::Error);
}

TEST_CASE("patch embedding equals the Conv3d it stores", "[models][layers]") {
  torch::manual_seed(1);
  PatchEmbed pe(32, 8, 3, 24, 4, 2);
  auto x = torch::randn({2, 3, 4, 32, 32});
  auto ours = pe(x);
  auto conv = pe->proj(x).flatten(2).transpose(1, 2);
  REQUIRE(ours.sizes() == torch::IntArrayRef({2, 2 * 4 * 4, 24}));
  CHECK(torch::allclose(ours, conv, 1e-5, 1e-5));
  CHECK_THROWS_AS(pe(torch::randn({2, 3, 4, 32, 16})), dfer::Error);
  CHECK_THROWS_AS(pe(torch::randn({2, 3, 6, 32, 32})), dfer::Error);
}

TEST_CASE("drop path zeroes whole leading rows and rescales", "[models][layers]") {
  torch::manual_seed(3);
  auto x = torch::ones({400, 5, 3});
  CHECK(torch::equal(drop_path(x, 0.3, false), x));
  CHECK(torch::equal(drop_path(x, 0.0, true), x));
  auto y = drop_path(x, 0.25, true);
  auto row_max = y.amax({1, 2}), row_min = y.amin({1, 2});
  CHECK(torch::equal(row_max, row_min));  // each row all-zero or all-kept
  auto kept = (row_max > 0);
  CHECK(torch::allclose(y.index({kept}), torch::full({1}, 1.0 / 0.75)));
  double frac = kept.to(torch::kFloat64).mean().item<double>();
  CHECK(frac == Approx(0.75).margin(0.08));
}

TEST_CASE("trunc normal respects its bounds", "[models][layers]") {
  torch::manual_seed(5);
  auto t = torch::empty({20000});
  trunc_normal_(t, 0.02, -0.02, 0.02);
  CHECK(t.abs().max().item<double>() <= 0.02);
  trunc_normal_(t, 0.02);
  CHECK(t.std().item<double>() == Approx(0.02).epsilon(0.05));
}

TEST_CASE("region partition is the upstream rearrange", "[models][layers]") {
  // grid (4, 6, 6), region (2, 3, 2): token n = t*36 + h*6 + w.
  auto x = torch::arange(144, torch::kFloat32).view({1, 144, 1});
  auto r = partition_regions(x, {4, 6, 6}, {2, 3, 2});
  REQUIRE(r.sizes() == torch::IntArrayRef({1, 12, 12, 1}));
  // region index = it*6 + ih*3 + iw; local index = t*6 + h*2 + w.
  for (int it = 0; it < 2; ++it)
    for (int ih = 0; ih < 2; ++ih)
      for (int iw = 0; iw < 3; ++iw)
        for (int t = 0; t < 2; ++t)
          for (int h = 0; h < 3; ++h)
            for (int w = 0; w < 2; ++w) {
              int n = (it * 2 + t) * 36 + (ih * 3 + h) * 6 + (iw * 2 + w);
              CHECK(r[0][it * 6 + ih * 3 + iw][t * 6 + h * 2 + w][0].item<float>() == n);
            }
  CHECK_THROWS_AS(partition_regions(torch::zeros({1, 100, 1}), {4, 6, 6}, {2, 3, 2}), dfer::Error);
}

TEST_CASE("fused and explicit attention agree in values and gradients", "[models][attention]") {
  torch::manual_seed(7);
  for (auto shape : {std::array<int64_t, 4>{3, 4, 13, 16}, std::array<int64_t, 4>{2, 2, 7, 8}}) {
    auto q = torch::randn({shape[0], shape[1], shape[2], shape[3]}, torch::requires_grad());
    auto k = torch::randn({shape[0], shape[1], 5, shape[3]}, torch::requires_grad());
    auto v = torch::randn({shape[0], shape[1], 5, shape[3]}, torch::requires_grad());
    auto g = torch::randn({shape[0], shape[1], shape[2], shape[3]});
    std::vector<torch::Tensor> outs, grads;
    for (double scale : {1.0 / std::sqrt(double(shape[3])), 0.3}) {
      outs.clear();
      grads.clear();
      for (auto b : {AttentionBackend::kFused, AttentionBackend::kExplicit}) {
        auto o = scaled_dot_product(q, k, v, scale, 0.0, true, b);
        auto gr = torch::autograd::grad({o}, {q, k, v}, {g});
        outs.push_back(o.detach());
        grads.insert(grads.end(), gr.begin(), gr.end());
      }
      CHECK(torch::allclose(outs[0], outs[1], 1e-5, 1e-5));
      for (int i = 0; i < 3; ++i) CHECK(torch::allclose(grads[i], grads[i + 3], 1e-5, 1e-5));
    }
  }
}

TEST_CASE("attention modules agree across backends", "[models][attention]") {
  torch::manual_seed(9);
  GeneralAttention ga(32, 4, true, 0.0, 0.0);
  Attention a(32, 4, true, 0.0, 0.0);
  torch::NoGradGuard guard;
  ga->q_bias.normal_();
  ga->v_bias.normal_();
  a->q_bias.normal_();
  a->v_bias.normal_();
  auto x = torch::randn({3, 11, 32}), ctx = torch::randn({3, 4, 32});
  const auto saved = attention_backend();
  set_attention_backend(AttentionBackend::kFused);
  auto f1 = ga(x, ctx), f2 = ga(x), f3 = a(x);
  set_attention_backend(AttentionBackend::kExplicit);
  auto e1 = ga(x, ctx), e2 = ga(x), e3 = a(x);
  set_attention_backend(saved);
  CHECK(torch::allclose(f1, e1, 1e-5, 1e-5));
  CHECK(torch::allclose(f2, e2, 1e-5, 1e-5));
  CHECK(torch::allclose(f3, e3, 1e-5, 1e-5));
  CHECK(f1.sizes() == torch::IntArrayRef({3, 11, 32}));

  // GeneralAttention is the upstream formula: kv bias cat(0, v_bias), q * scale, softmax.
  auto q = torch::nn::functional::linear(x, ga->q->weight, ga->q_bias)
               .view({3, 11, 4, 8})
               .transpose(1, 2);
  auto kv =
      torch::nn::functional::linear(ctx, ga->kv->weight, torch::cat({torch::zeros(32), ga->v_bias}))
          .view({3, 4, 2, 4, 8})
          .permute({2, 0, 3, 1, 4});
  auto att = torch::matmul(q * (1.0 / std::sqrt(8.0)), kv[0].transpose(-2, -1)).softmax(-1);
  auto ref = ga->proj(torch::matmul(att, kv[1]).transpose(1, 2).reshape({3, 11, 32}));
  CHECK(torch::allclose(f1, ref, 1e-5, 1e-5));
}

TEST_CASE("auto attention: explicit when differentiated on the CPU, fused otherwise",
          "[models][attention]") {
  using dfer::models::AttentionBackend;
  using dfer::models::scaled_dot_product;
  torch::manual_seed(5);
  auto q = torch::randn({2, 3, 9, 16}), k = torch::randn({2, 3, 9, 16}),
       v = torch::randn({2, 3, 9, 16});
  const double s = 0.25;
  {
    torch::NoGradGuard no_grad;
    CHECK(torch::equal(scaled_dot_product(q, k, v, s, 0.0, false, AttentionBackend::kAuto),
                       scaled_dot_product(q, k, v, s, 0.0, false, AttentionBackend::kFused)));
  }
  q.requires_grad_(true);
  const auto a = scaled_dot_product(q, k, v, s, 0.0, true, AttentionBackend::kAuto);
  const auto e = scaled_dot_product(q, k, v, s, 0.0, true, AttentionBackend::kExplicit);
  CHECK(torch::equal(a, e));
  // and agrees with the fused kernel to rounding.
  CHECK(torch::allclose(a, scaled_dot_product(q, k, v, s, 0.0, true, AttentionBackend::kFused),
                        1e-5, 1e-5));
}

TEST_CASE("keyed drop path: a sample's draws do not depend on its batch", "[models][layers]") {
  using dfer::models::drop_path;
  using dfer::models::DropPathKeys;
  const std::vector<uint64_t> keys = {11, 22, 33, 44, 55, 66, 77, 88};
  // Two calls per forward; each row is (sample, region) with 3 regions per sample.
  auto forward = [](const std::vector<uint64_t>& k) {
    DropPathKeys scope(k);
    const auto n = static_cast<int64_t>(k.size());
    auto x = torch::ones({n * 3, 2});
    auto first = drop_path(x, 0.5, true);
    auto second = drop_path(x, 0.5, true);
    return std::make_pair(first, second);
  };
  const auto all = forward(keys);
  const auto tail = forward({keys.begin() + 4, keys.end()});
  CHECK(torch::equal(all.first.narrow(0, 12, 12), tail.first));
  CHECK(torch::equal(all.second.narrow(0, 12, 12), tail.second));
  // The second call draws afresh, survivors are scaled by 1 / keep, and some rows drop.
  CHECK_FALSE(torch::equal(all.first, all.second));
  const auto values = std::get<0>(torch::_unique(all.first));
  CHECK(values.numel() == 2);
  CHECK(values.max().item<float>() == Approx(2.0f));
  // Outside a scope: torch's generator again; rows not divisible among the keys are an error.
  {
    DropPathKeys scope({1, 2, 3});
    CHECK_THROWS(drop_path(torch::ones({4, 2}), 0.5, true));
  }
  CHECK(drop_path(torch::ones({4, 2}), 0.5, false).equal(torch::ones({4, 2})));
}
