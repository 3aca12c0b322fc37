// Unit tests of the later reference's model variants: named heads (combine, L2CS) and the MLP
// decoder with their upstream keys, per-frame outputs grouped by time, and LoRA adapters (zero B
// = the frozen model, merged weights = the adapted model).
#include <catch2/catch.hpp>

#include "dfer/models/build.h"
#include "dfer/models/lora.h"
#include "dfer/models/vision_transformer.h"
#include "dfer/models/weights.h"
#include "dfer/util/error.h"

using namespace dfer::models;

namespace {

// A tiny LGI-Former: 32 px, 4 frames, patch 8 -> token grid 2 x 4 x 4, regions 1 x 2 x 2.
ModelSpec tiny(const std::string& attn = "local_global") {
  auto s = spec_from_name("vit_base_dim512_no_depth_patch16_160");
  s.img_size = 32;
  s.patch_size = 8;
  s.num_frames = 4;
  s.embed_dim = 32;
  s.depth = 2;
  s.num_heads = 4;
  s.num_classes = 2;
  s.attn_type = attn;
  s.lg_region_size = {1, 2, 2};
  s.lg_classify_token_type = "org";
  s.qkv_bias = true;
  s.init_scale = 1.0;  // a visible head output (the released 0.001 would hide differences)
  return s;
}

bool has_key(const dfer::io::NamedTensors& sd, const std::string& k) {
  for (const auto& kv : sd)
    if (kv.first == k) return true;
  return false;
}

}  // namespace

TEST_CASE("merge_regions inverts partition_regions", "[models][lora]") {
  auto x = torch::randn({2, 3 * 4 * 6, 5});
  const std::array<int64_t, 3> grid{3, 4, 6}, region{1, 2, 3};
  auto parts = partition_regions(x, grid, region);
  CHECK(torch::equal(merge_regions(parts, grid, region), x));
}

TEST_CASE("named heads and the decoder carry the reference's keys", "[models][lora]") {
  auto s = tiny();
  s.heads = {{"reg", 2}, {"cls", 7}};
  s.decoder_hidden = 16;
  auto m = build_finetune(s);
  auto sd = state_dict(*m);
  for (const char* k : {"head.reg.weight", "head.reg.bias", "head.cls.weight", "head.cls.bias",
                        "decoder.0.weight", "decoder.0.bias", "decoder.2.weight", "decoder.2.bias"})
    CHECK(has_key(sd, k));
  CHECK_FALSE(has_key(sd, "head.weight"));
  m->eval();
  auto y = m->forward(torch::randn({3, 3, 4, 32, 32}));
  REQUIRE(y.sizes() == torch::IntArrayRef({3, 9}));
  auto parts = split_heads(s, y);
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].size(1) == 2);
  CHECK(parts[1].size(1) == 7);
  // The head outputs are the named Linear modules applied to the decoded feature.
  auto f = m->decoder->forward(m->forward_features(torch::zeros({1, 3, 4, 32, 32})));
  auto ref = m->forward(torch::zeros({1, 3, 4, 32, 32}));
  auto reg = torch::nn::functional::linear(f, m->named_parameters()["head.reg.weight"],
                                           m->named_parameters()["head.reg.bias"]);
  CHECK(torch::allclose(split_heads(s, ref)[0], reg, 1e-5, 1e-6));
}

TEST_CASE("per-frame outputs are grouped by time, not by region order", "[models][lora]") {
  for (const char* attn : {"local_global", "joint"}) {
    auto s = tiny(attn);
    s.keep_temporal_dim = true;
    auto m = build_finetune(s);
    m->eval();
    torch::manual_seed(3);
    auto video = torch::randn({2, 3, 4, 32, 32});
    auto y = m->forward(video);
    REQUIRE(y.sizes() == torch::IntArrayRef({2, 4, 2}));
    // The features of frame t come from the tokens of temporal patch t / 2: rebuild them from
    // the raster-ordered block output (token grid 2 x 4 x 4) by hand.
    Taps taps;
    m->forward_features(video, &taps);
    torch::Tensor raster;
    auto last = taps.at("block1_out");  // (B*M, 1 + L, C) for LGI, (B, N, C) for ViT
    if (std::string(attn) == "local_global") {
      auto x4 = last.view({2, 8, 5, 32}).narrow(2, 1, 4);
      raster = merge_regions(x4, {2, 4, 4}, {1, 2, 2});
    } else {
      raster = last;
    }
    auto per_t = raster.view({2, 2, 16, 32}).mean(2);  // (B, T' = 2, C)
    // Linear x2 with align_corners=False: frames 0, 1 -> t' 0 (clamped edge) and 0.25 / 0.75 mix.
    auto f0 = per_t.select(1, 0), f1 = per_t.select(1, 1);
    auto frames = torch::stack({f0, 0.75 * f0 + 0.25 * f1, 0.25 * f0 + 0.75 * f1, f1}, 1);
    auto expect = m->head->forward(m->fc_norm->forward(frames));
    CHECK(torch::allclose(y, expect, 1e-4, 1e-5));
  }
  auto bad = tiny();
  bad.keep_temporal_dim = true;
  bad.lg_classify_token_type = "region";
  CHECK_THROWS_AS(validate(bad), dfer::UsageError);
}

TEST_CASE("LoRA with B = 0 computes the frozen model, merged weights the adapted one",
          "[models][lora]") {
  for (const char* attn : {"local_global", "joint"}) {
    torch::manual_seed(7);
    auto base_spec = tiny(attn);
    auto base = build_finetune(base_spec);
    auto lora_spec = base_spec;
    lora_spec.lora_rank = 4;
    lora_spec.lora_alpha = 8;
    auto adapted = build_finetune(lora_spec);
    auto report = load_state(*adapted, state_dict(*base));
    CHECK(report.missing.size() > 0);  // the lora_* keys
    CHECK(report.unexpected.empty());
    base->eval();
    adapted->eval();
    auto x = torch::randn({2, 3, 4, 32, 32});
    CHECK(torch::equal(adapted->forward(x), base->forward(x)));

    // Give the adapters a non-zero update, then fold them into plain weights.
    int64_t adapters = 0;
    {
      torch::NoGradGuard g;
      for (auto& p : adapted->named_parameters())
        if (p.key().find("lora_B") != std::string::npos) {
          p.value().normal_(0, 0.05);
          ++adapters;
        }
    }
    CHECK(adapters == (std::string(attn) == "joint" ? 2 * 2 : 3 * 3 * 2));
    auto y_adapted = adapted->forward(x);
    CHECK_FALSE(torch::allclose(y_adapted, base->forward(x), 1e-4, 1e-4));
    int64_t merged = 0;
    auto plain = merge_lora(state_dict(*adapted), &merged);
    CHECK(merged == adapters);
    for (const auto& kv : plain) CHECK(kv.first.find("lora_") == std::string::npos);
    auto restored = build_finetune(base_spec);
    load_state(*restored, plain, /*strict=*/true);
    restored->eval();
    CHECK(torch::allclose(restored->forward(x), y_adapted, 1e-4, 1e-5));
  }
}

TEST_CASE("merge_lora names an incomplete adapter", "[models][lora]") {
  dfer::io::NamedTensors w = {{"blocks.0.attn.qkv.weight", torch::zeros({6, 2})},
                              {"blocks.0.attn.qkv.lora_A", torch::zeros({1, 2})}};
  CHECK_THROWS_WITH(merge_lora(w), Catch::Contains("blocks.0.attn.qkv.lora_B"));
}
