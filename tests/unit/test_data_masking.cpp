// MAE masking generators: counts per window, tube tiling, determinism by seed, numpy-compatible
// draws (the reference fixture's masks are reproduced bit for bit), and bad parameters.
#include <catch2/catch.hpp>

#include "dfer/data/masking.h"
#include "dfer/io/safetensors.h"
#include "dfer/util/error.h"
#include "support/fixtures.h"

#include <nlohmann/json.hpp>

#include <fstream>

using namespace dfer::data;

TEST_CASE("numpy legacy primitives on MT19937", "[data][masking]") {
  // np.random.seed(0); np.random.rand() -> 0.5488135039273248
  std::mt19937 rng(0);
  CHECK(numpy_random_sample(rng) == Approx(0.5488135039273248).epsilon(1e-15));
  // np.random.seed(0); x = list(range(10)); np.random.shuffle(x) -> [2,8,4,9,1,6,7,3,0,5]
  std::mt19937 rng2(0);
  std::vector<uint8_t> v = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  numpy_shuffle(v, rng2);
  CHECK(v == std::vector<uint8_t>{2, 8, 4, 9, 1, 6, 7, 3, 0, 5});
  std::mt19937 rng3(1);
  for (int i = 0; i < 1000; ++i) CHECK(numpy_random_interval(rng3, 6) <= 6);
  CHECK(numpy_random_interval(rng3, 0) == 0);
}

TEST_CASE("part_window: fixed count per window, tiled over time", "[data][masking]") {
  TubeWindowMaskingGenerator gen({8, 10, 10}, 0.9, {5, 10});
  CHECK(gen.num_patches() == 800);
  CHECK(gen.num_masked() == 720);
  std::mt19937 rng(123);
  for (int k = 0; k < 5; ++k) {
    auto m = gen(rng);
    REQUIRE(m.sizes() == torch::IntArrayRef({800}));
    REQUIRE(m.scalar_type() == torch::kBool);
    CHECK(m.sum().item<int64_t>() == 720);
    auto frames = m.view({8, 10, 10});
    for (int t = 1; t < 8; ++t) CHECK(torch::equal(frames[t], frames[0]));
    CHECK(frames[0].slice(0, 0, 5).logical_not().sum().item<int64_t>() == 5);
    CHECK(frames[0].slice(0, 5, 10).logical_not().sum().item<int64_t>() == 5);
  }
}

TEST_CASE("tube: fixed count per frame, same pattern in every frame", "[data][masking]") {
  TubeMaskingGenerator gen({8, 10, 10}, 0.9);
  CHECK(gen.num_masked() == 720);
  std::mt19937 rng(5);
  auto m = gen(rng).view({8, 100});
  for (int t = 0; t < 8; ++t) {
    CHECK(m[t].sum().item<int64_t>() == 90);
    CHECK(torch::equal(m[t], m[0]));
  }
  CHECK_FALSE(gen.describe().empty());
}

TEST_CASE("masks are deterministic by seed and differ across seeds", "[data][masking]") {
  auto gen = make_masking_generator("part_window", {8, 10, 10}, 0.9, {2, 5, 10});
  CHECK(torch::equal(draw_mask(*gen, 42), draw_mask(*gen, 42)));
  CHECK_FALSE(torch::equal(draw_mask(*gen, 42), draw_mask(*gen, 43)));
  std::mt19937 a(7), b(7);
  CHECK(torch::equal((*gen)(a), (*gen)(b)));
}

TEST_CASE("symmetric part_window masks one half of every window", "[data][masking]") {
  for (const char* sym : {"global", "local"}) {
    TubeWindowMaskingGenerator gen({2, 4, 6}, 0.75, {2, 6}, sym);
    std::mt19937 rng(9);
    for (int k = 0; k < 10; ++k) {
      auto frame = gen(rng).view({2, 4, 6})[0];
      CHECK(frame.sum().item<int64_t>() == gen.num_masked() / 2);
      int left_sides = 0;
      for (int w = 0; w < 2; ++w) {
        auto win = frame.slice(0, 2 * w, 2 * w + 2);
        bool left_masked = win.slice(1, 0, 3).all().item<bool>();
        bool right_masked = win.slice(1, 3, 6).all().item<bool>();
        CHECK(left_masked != right_masked);
        left_sides += right_masked;  // visible tokens on the left
        CHECK(win.logical_not().sum().item<int64_t>() == 3);
      }
      if (std::string(sym) == "global") CHECK((left_sides == 0 || left_sides == 2));
    }
  }
}

TEST_CASE("masking generators reject impossible parameters", "[data][masking]") {
  CHECK_THROWS_AS(TubeWindowMaskingGenerator({8, 10, 10}, 0.9, {5, 5}), dfer::UsageError);
  CHECK_THROWS_AS(TubeWindowMaskingGenerator({8, 10, 10}, 0.9, {3, 10}), dfer::UsageError);
  CHECK_THROWS_AS(TubeWindowMaskingGenerator({8, 10, 9}, 0.9, {5, 9}), dfer::UsageError);
  CHECK_THROWS_AS(TubeWindowMaskingGenerator({8, 10, 10}, 0.4, {5, 10}, "global"),
                  dfer::UsageError);
  CHECK_THROWS_AS(TubeWindowMaskingGenerator({8, 10, 10}, 0.9, {5, 10}, "diagonal"),
                  dfer::UsageError);
  CHECK_THROWS_AS(TubeMaskingGenerator({8, 0, 10}, 0.9), dfer::UsageError);
  CHECK_THROWS_AS(TubeMaskingGenerator({8, 10, 10}, 1.5), dfer::UsageError);
  CHECK_THROWS_AS(make_masking_generator("random", {8, 10, 10}, 0.9, {2, 5, 10}), dfer::UsageError);
}

TEST_CASE("part_window reproduces the reference fixture masks", "[data][masking]") {
  if (!dfer::test::require_fixture("reference/pretrain_lgi_small")) return;
  const auto dir = dfer::test::fixtures_root() / "reference" / "pretrain_lgi_small";
  std::ifstream in(dir / "config.json");
  const auto cfg = nlohmann::json::parse(in).at("masking");
  auto ws = cfg.at("window_size").get<std::array<int64_t, 3>>();
  auto pw = cfg.at("part_win_size").get<std::array<int64_t, 3>>();
  auto gen = make_masking_generator(cfg.at("mask_type").get<std::string>(), ws,
                                    cfg.at("mask_ratio").get<double>(), pw);
  auto expected =
      dfer::io::to_map(dfer::io::load_safetensors((dir / "input.safetensors").string()))["mask"];
  // np.random.seed(seed), one call per sample in batch order.
  std::mt19937 rng(cfg.at("numpy_seed").get<uint32_t>());
  for (int64_t b = 0; b < expected.size(0); ++b) CHECK(torch::equal((*gen)(rng), expected[b]));
}
