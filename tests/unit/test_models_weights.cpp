// Weight loading reports (missing, unexpected, wrong shape/dtype, duplicates: never a crash),
// save/load round trip, and the pre-train -> fine-tune key rules (SPEC §1.13).
#include <catch2/catch.hpp>

#include "dfer/models/build.h"
#include "dfer/models/weights.h"
#include "dfer/util/error.h"
#include "support/fixtures.h"

#include <algorithm>

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

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("load_state reports instead of crashing", "[models][weights]") {
  auto m = build_finetune(tiny(ModelKind::kFinetune));
  auto sd = state_dict(*m);
  dfer::io::NamedTensors in;
  for (const auto& [k, t] : sd) {
    if (k == "head.bias") continue;  // missing
    if (k == "head.weight")
      in.emplace_back(k, torch::zeros({9, 16}));  // wrong shape
    else if (k == "fc_norm.weight")
      in.emplace_back(k, torch::ones({16}, torch::kInt32));  // dtype
    else
      in.emplace_back(k, torch::full(t.sizes(), 0.5));
  }
  in.emplace_back("bogus.weight", torch::zeros({3}));
  in.emplace_back("fc_norm.bias", torch::zeros({16}));  // duplicate of an earlier entry
  in.emplace_back("undefined", torch::Tensor());

  auto r = load_state(*m, in);
  CHECK(r.missing == std::vector<std::string>{"head.bias"});
  CHECK(contains(r.unexpected, "bogus.weight"));
  CHECK(contains(r.unexpected, "undefined"));
  REQUIRE(r.mismatched.size() == 3);
  CHECK(r.mismatched[0].reason.rfind("dtype", 0) == 0);
  CHECK(r.mismatched[1].name == "head.weight");
  CHECK(r.mismatched[1].got == std::vector<int64_t>{9, 16});
  CHECK(r.mismatched[1].expected == std::vector<int64_t>{5, 16});
  CHECK(r.mismatched[2].reason.find("duplicate") != std::string::npos);
  CHECK_FALSE(r.clean());
  // Loaded tensors got the values; skipped ones kept theirs.
  CHECK(m->lg_region_tokens.eq(0.5).all().item<bool>());
  CHECK_FALSE(m->head->weight.eq(0.0).all().item<bool>());
  auto text = r.summary("VisionTransformer");
  CHECK(text.find("not initialized from pretrained model: ['head.bias']") != std::string::npos);
  CHECK(text.find("size mismatch for head.weight") != std::string::npos);
  CHECK_THROWS_AS(load_state(*m, in, /*strict=*/true), dfer::Error);
  CHECK(load_state(*m, {}, false).missing.size() == sd.size());
}

TEST_CASE("save_state and load_state_file round trip", "[models][weights]") {
  auto a = build_finetune(tiny(ModelKind::kFinetune));
  auto b = build_finetune(tiny(ModelKind::kFinetune));
  auto path = (dfer::test::temp_dir("models-weights") / "w.safetensors").string();
  save_state(*a, path, {{"note", "test"}});
  auto r = load_state_file(*b, path, /*strict=*/true);
  CHECK(r.clean());
  auto sa = state_dict(*a), sb = state_dict(*b);
  REQUIRE(sa.size() == sb.size());
  for (size_t i = 0; i < sa.size(); ++i) CHECK(torch::equal(sa[i].second, sb[i].second));
  CHECK_THROWS_AS(load_state_file(*b, path + ".missing"), dfer::Error);
}

TEST_CASE("pre-train checkpoint loads into the fine-tune model like upstream",
          "[models][weights]") {
  auto pre = build_pretrain(tiny(ModelKind::kPretrain));
  auto ft = build_finetune(tiny(ModelKind::kFinetune));
  // A DDP-style checkpoint: every key prefixed with module., plus a head of another size.
  dfer::io::NamedTensors ckpt;
  for (const auto& [k, t] : state_dict(*pre)) ckpt.emplace_back("module." + k, t.clone());
  ckpt.emplace_back("module.head.weight", torch::zeros({11, 16}));
  ckpt.emplace_back("module.head.bias", torch::zeros({11}));

  auto r = load_pretrained_for_finetune(*ft, ckpt);
  CHECK(r.missing ==
        std::vector<std::string>{"fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias"});
  CHECK(r.mismatched.empty());
  CHECK(contains(r.unexpected, "mask_token"));
  CHECK(contains(r.unexpected, "encoder_to_decoder.weight"));
  CHECK(contains(r.unexpected, "norm.weight"));
  CHECK(contains(r.unexpected, "norm.bias"));
  CHECK(contains(r.unexpected, "decoder.head.weight"));
  for (const auto& u : r.unexpected)
    CHECK((u == "mask_token" || u.rfind("decoder.", 0) == 0 || u == "encoder_to_decoder.weight" ||
           u.rfind("norm.", 0) == 0));
  CHECK(r.notes.size() == 4);  // module. strip, 2 head drops, encoder. strip
  CHECK(torch::equal(ft->lg_region_tokens, pre->encoder->lg_region_tokens));
  auto* b0 = ft->blocks[1]->as<LGBlockImpl>();
  auto* p0 = pre->encoder->blocks[1]->as<LGBlockImpl>();
  CHECK(torch::equal(b0->third_attn->kv->weight, p0->third_attn->kv->weight));
  CHECK(r.summary("VisionTransformer").find("not used in VisionTransformer") != std::string::npos);

  // A same-sized head is kept and loaded; a target with `norm` takes the encoder norm.
  auto spec = tiny(ModelKind::kFinetune);
  spec.use_mean_pooling = false;
  auto ft2 = build_finetune(spec);
  dfer::io::NamedTensors ck2 = {{"encoder.norm.weight", torch::full({16}, 2.0)},
                                {"head.weight", torch::full({5, 16}, 3.0)}};
  auto r2 = load_pretrained_for_finetune(*ft2, ck2);
  CHECK(r2.unexpected.empty());
  CHECK(ft2->norm->weight.eq(2.0).all().item<bool>());
  CHECK(ft2->head->weight.eq(3.0).all().item<bool>());
}
