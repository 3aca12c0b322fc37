// Parameter groups: layer ids and the 18 layer-decay scales of SPEC 3.2, no-decay rules, and the
// pre-training region-token quirk of SPEC 8.5.
#include <catch2/catch.hpp>

#include <cmath>

#include "dfer/models/build.h"
#include "dfer/train/param_groups.h"

using namespace dfer::train;
using namespace dfer::models;

namespace {
ModelSpec tiny(ModelKind kind) {
  ModelSpec s = kind == ModelKind::kPretrain ? released_pretrain_spec() : released_finetune_spec(5);
  s.img_size = 32;
  s.patch_size = 8;
  s.num_frames = 4;
  s.embed_dim = 16;
  s.num_heads = 2;
  s.depth = 2;
  s.lg_region_size = {1, 2, 4};
  s.decoder_embed_dim = 8;
  s.decoder_num_heads = 2;
  s.decoder_depth = 1;
  return s;
}

const ParamGroup* group_of(const std::vector<ParamGroup>& groups, const std::string& name) {
  for (const auto& g : groups)
    for (const auto& n : g.param_names)
      if (n == name) return &g;
  return nullptr;
}
}  // namespace

TEST_CASE("layer-decay scales of the released model (SPEC 3.2)", "[train][param_groups]") {
  const double expect[18] = {0.007517, 0.010023, 0.013363, 0.017818, 0.023757, 0.031676,
                             0.042235, 0.056314, 0.075085, 0.100113, 0.133484, 0.177979,
                             0.237305, 0.316406, 0.421875, 0.5625,   0.75,     1.0};
  const auto s = layer_scales(0.75, 16);
  REQUIRE(s.size() == 18);
  for (size_t k = 0; k < 18; ++k) CHECK(std::abs(s[k] - expect[k]) < 5e-7);
  CHECK(s[0] == std::pow(0.75, 17));
}

TEST_CASE("layer ids follow get_num_layer_for_vit", "[train][param_groups]") {
  CHECK(vit_layer_id("cls_token", 16) == 0);
  CHECK(vit_layer_id("pos_embed", 16) == 0);
  CHECK(vit_layer_id("patch_embed.proj.weight", 16) == 0);
  CHECK(vit_layer_id("blocks.0.attn.qkv.weight", 16) == 1);
  CHECK(vit_layer_id("blocks.15.mlp.fc2.bias", 16) == 16);
  CHECK(vit_layer_id("lg_region_tokens", 16) == 17);
  CHECK(vit_layer_id("fc_norm.weight", 16) == 17);
  CHECK(vit_layer_id("head.weight", 16) == 17);
  CHECK(vit_layer_id("blocksx.1.weight", 16) == 17);
}

TEST_CASE("fine-tune groups: layer decay, no decay for region tokens", "[train][param_groups]") {
  auto m = build_finetune(tiny(ModelKind::kFinetune));
  ParamGroupOptions o;
  o.weight_decay = 0.05;
  o.layer_decay = 0.75;
  o.num_layers = 2;
  o.skip_list = finetune_skip_list();
  const auto groups = build_param_groups(unique_named_parameters(*m), o);
  const auto* g = group_of(groups, "lg_region_tokens");
  REQUIRE(g);
  CHECK(g->name == "layer_3_no_decay");
  CHECK(g->weight_decay == 0.0);
  CHECK(g->lr_scale == 1.0);
  g = group_of(groups, "head.weight");
  REQUIRE(g);
  CHECK(g->name == "layer_3_decay");
  CHECK(g->weight_decay == 0.05);
  g = group_of(groups, "patch_embed.proj.weight");
  REQUIRE(g);
  CHECK(g->name == "layer_0_decay");
  CHECK(g->lr_scale == std::pow(0.75, 3));
  g = group_of(groups, "blocks.0.mlp.fc1.bias");
  REQUIRE(g);
  CHECK(g->name == "layer_1_no_decay");
  CHECK(g->lr_scale == std::pow(0.75, 2));
  // Every trainable parameter is in exactly one group.
  size_t n = 0;
  for (const auto& gr : groups) n += gr.params.size();
  CHECK(n == unique_named_parameters(*m).size());
  // layer_decay 1: just decay / no_decay.
  o.layer_decay = 1.0;
  const auto flat = build_param_groups(unique_named_parameters(*m), o);
  REQUIRE(flat.size() == 2);
  for (const auto& gr : flat) CHECK(gr.lr_scale == 1.0);
}

TEST_CASE("pre-train groups: encoder region tokens decayed unless the quirk is off",
          "[train][param_groups]") {
  auto m = build_pretrain(tiny(ModelKind::kPretrain));
  ParamGroupOptions o;
  o.num_layers = 2;
  o.skip_list = pretrain_skip_list();
  auto groups = build_param_groups(unique_named_parameters(*m), o);
  REQUIRE(groups.size() == 2);
  CHECK(group_of(groups, "encoder.lg_region_tokens")->name == "decay");  // SPEC 8.5
  CHECK(group_of(groups, "mask_token")->name == "no_decay");
  CHECK(group_of(groups, "encoder_to_decoder.weight")->name == "decay");
  CHECK(group_of(groups, "decoder.norm.weight")->name == "no_decay");
  o.exact_skip_names = false;
  groups = build_param_groups(unique_named_parameters(*m), o);
  CHECK(group_of(groups, "encoder.lg_region_tokens")->name == "no_decay");
}
