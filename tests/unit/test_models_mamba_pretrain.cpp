// VideoMamba masked pre-training model: registry and validation, output layout (masked tokens in
// ascending order), the encoder seeing visible tokens only, parameter names that load into the
// fine-tune VisionMamba, and a training step through the MAE target and loss.
#include <catch2/catch.hpp>

#include "dfer/models/build.h"
#include "dfer/models/mae_target.h"
#include "dfer/models/summary.h"
#include "dfer/models/videomamba_pretrain.h"
#include "dfer/models/weights.h"
#include "dfer/util/error.h"

#include <cmath>
#include <set>
#include <string>

using namespace dfer::models;

namespace {

// 32 px, 4 frames, tubelet 2, patch 16: a 2 x 2 x 2 token grid (N = 8), 1536 pixels per token.
ModelSpec tiny_spec(bool learned_pos = false) {
  auto s = spec_from_name("pretrain_videomamba_base_dim512_patch16_160");
  s.img_size = 32;
  s.num_frames = 4;
  s.embed_dim = 32;
  s.depth = 2;
  s.decoder_embed_dim = 16;
  s.decoder_depth = 1;
  s.drop_path_rate = 0.0;
  s.mamba_learned_pos = learned_pos;
  return s;
}

// The fine-tune model the tiny pre-training model's encoder belongs to.
ModelSpec tiny_finetune_spec(bool learned_pos = false) {
  auto s = spec_from_name("videomamba_base_dim512_patch16_160");
  s.img_size = 32;
  s.num_frames = 4;
  s.embed_dim = 32;
  s.depth = 2;
  s.num_classes = 7;
  s.mamba_learned_pos = learned_pos;
  return s;
}

// Half of each frame's tokens masked, a different pattern per sample.
torch::Tensor half_mask() {
  return torch::tensor({{1, 0, 0, 1, 0, 1, 1, 0}, {0, 1, 1, 0, 1, 0, 0, 1}}, torch::kBool);
}

}  // namespace

TEST_CASE("VideoMamba pre-training registry entries and validation", "[models][mamba][pretrain]") {
  auto s = spec_from_name("pretrain_videomamba_base_dim512_patch16_160");
  CHECK(s.kind == ModelKind::kPretrain);
  CHECK(s.backbone == "videomamba");
  CHECK(s.embed_dim == 512);
  CHECK(s.depth == 32);
  CHECK(s.img_size == 160);
  CHECK(s.num_frames == 16);
  CHECK(s.tubelet_size == 2);
  CHECK_FALSE(s.mamba_learned_pos);
  CHECK(s.decoder_embed_dim == 512);
  CHECK(s.decoder_depth == 4);
  CHECK(s.decoder_num_classes() == 1536);
  CHECK(describe(s).find("pixel decoder") != std::string::npos);
  CHECK(spec_from_name("videomamba_middle_pretrain").embed_dim == 768);
  CHECK(is_pretrain_name("videomamba_middle_pretrain"));
  CHECK(is_pretrain_name("pretrain_videomae_base_patch16_160"));
  CHECK_FALSE(is_pretrain_name("videomamba_base_dim512_patch16_160"));

  auto bad = tiny_spec();
  bad.keep_temporal_dim = true;
  CHECK_THROWS_AS(validate(bad), dfer::UsageError);
  bad = tiny_spec();
  bad.decoder_embed_dim = 0;
  CHECK_THROWS_AS(validate(bad), dfer::UsageError);
  bad = tiny_spec();
  bad.heads = {{"reg", 2}};
  CHECK_THROWS_AS(validate(bad), dfer::UsageError);

  // Dispatch: build_model and build_masked_model give the Mamba model; the typed ViT views refuse.
  auto any = build_model(tiny_spec());
  CHECK(std::dynamic_pointer_cast<PretrainVisionMambaImpl>(any));
  CHECK_NOTHROW(as_masked_model(any));
  CHECK_THROWS_AS(as_pretrain(any), dfer::Error);
  CHECK_THROWS_AS(build_pretrain(tiny_spec()), dfer::UsageError);
  CHECK_THROWS_AS(build_masked_model(tiny_finetune_spec()), dfer::UsageError);
  CHECK_THROWS_AS(PretrainVisionMamba(tiny_finetune_spec()), dfer::UsageError);
  // The ViT pre-train model answers through the same interface.
  auto vit = build_masked_model(spec_from_name("pretrain_videomae_base_patch16_160"));
  CHECK(std::dynamic_pointer_cast<PretrainVisionTransformerImpl>(vit));
}

TEST_CASE("VideoMamba pre-training: masked tokens out in ascending order",
          "[models][mamba][pretrain]") {
  torch::manual_seed(11);
  auto model = PretrainVisionMamba(tiny_spec());
  model->eval();
  auto video = torch::randn({2, 3, 4, 32, 32});
  auto mask = half_mask();
  Taps taps;
  auto out = model->forward(video, mask, &taps);
  REQUIRE(out.sizes() == torch::IntArrayRef({2, 4, 1536}));
  CHECK(taps["encoder_in"].sizes() == torch::IntArrayRef({2, 4, 32}));
  CHECK(taps["encoder_out"].sizes() == torch::IntArrayRef({2, 4, 32}));
  REQUIRE(taps["decoder_out"].sizes() == torch::IntArrayRef({2, 9, 16}));
  // Row j of sample b is the prediction of its j-th masked token counted from token 0 (the
  // decoder's row 1 + token: row 0 is cls).
  for (int64_t b = 0; b < 2; ++b) {
    int64_t j = 0;
    for (int64_t n = 0; n < 8; ++n) {
      if (!mask[b][n].item<bool>()) continue;
      auto want = model->decoder_pred(taps["decoder_out"][b][1 + n]);
      CHECK(torch::allclose(out[b][j], want, 1e-5, 1e-6));
      ++j;
    }
  }
  // The visible tokens enter the decoder at their raster rows, the mask token elsewhere.
  const auto& din = taps["decoder_in"];
  auto pos = sinusoid_table(9, 16);
  auto mt = model->mask_token.detach().view({16});
  CHECK(torch::allclose(din[0][0] - pos[0][0], mt, 1e-5, 1e-6));  // cls row: a mask token
  CHECK(torch::allclose(din[0][1] - pos[0][1], mt, 1e-5, 1e-6));  // token 0 of sample 0: masked
  auto emb = model->decoder_embed(taps["encoder_out"]);
  CHECK(torch::allclose(din[0][2] - pos[0][2], emb[0][0], 1e-5, 1e-6));  // token 1: visible 0
  CHECK(torch::allclose(din[1][1] - pos[0][1], emb[1][0], 1e-5, 1e-6));  // token 0: visible 0

  CHECK_THROWS_AS(model->forward(video, torch::ones({2, 8}, torch::kBool)), dfer::Error);
  auto uneven = mask.clone();
  uneven[0][1] = true;
  CHECK_THROWS_AS(model->forward(video, uneven), dfer::Error);
  CHECK_THROWS_AS(model->forward(video, mask.narrow(1, 0, 7)), dfer::Error);
}

TEST_CASE("VideoMamba pre-training: the encoder sees the visible tokens only",
          "[models][mamba][pretrain]") {
  torch::manual_seed(12);
  auto model = PretrainVisionMamba(tiny_spec());
  model->eval();
  auto video = torch::randn({2, 3, 4, 32, 32});
  auto mask = half_mask();
  Taps a, b, c;
  auto out_a = model->forward(video, mask, &a);
  // Token 0 of sample 0 is masked: frames 0-1, rows 0-15, columns 0-15.
  auto masked_change = video.clone();
  masked_change.index_put_({0, torch::indexing::Slice(), torch::indexing::Slice(0, 2),
                            torch::indexing::Slice(0, 16), torch::indexing::Slice(0, 16)},
                           5.0);
  auto out_b = model->forward(masked_change, mask, &b);
  // Masked pixels reach neither the encoder nor the decoder (its masked rows hold the mask token).
  CHECK(torch::equal(a["encoder_out"], b["encoder_out"]));
  CHECK(torch::equal(out_a, out_b));
  // Token 1 of sample 0 is visible: the bidirectional scan carries the change to every visible
  // token of the sample, and the decoder to every prediction; sample 1 is untouched.
  auto visible_change = video.clone();
  visible_change.index_put_({0, torch::indexing::Slice(), torch::indexing::Slice(0, 2),
                             torch::indexing::Slice(0, 16), torch::indexing::Slice(16, 32)},
                            5.0);
  auto out_c = model->forward(visible_change, mask, &c);
  for (int64_t j = 0; j < 4; ++j)
    CHECK_FALSE(torch::allclose(a["encoder_out"][0][j], c["encoder_out"][0][j]));
  CHECK(torch::equal(a["encoder_out"][1], c["encoder_out"][1]));
  // (The freshly initialised decoder passes it on weakly, so "changed" rather than "far".)
  for (int64_t j = 0; j < 4; ++j) CHECK_FALSE(torch::equal(out_a[0][j], out_c[0][j]));
  CHECK(torch::equal(out_a[1], out_c[1]));
}

TEST_CASE("VideoMamba pre-training weights load into the fine-tune model by name",
          "[models][mamba][pretrain]") {
  for (bool learned : {false, true}) {
    INFO("learned pos_embed " << learned);
    torch::manual_seed(13);
    auto pre = PretrainVisionMamba(tiny_spec(learned));
    auto ft = build_videomamba(tiny_finetune_spec(learned));
    auto report = load_pretrained_for_finetune(*ft, state_dict(*pre));
    INFO(report.summary());
    CHECK(report.mismatched.empty());
    // Every fine-tune tensor but the new head comes from the checkpoint.
    CHECK(std::set<std::string>(report.missing.begin(), report.missing.end()) ==
          std::set<std::string>{"head.weight", "head.bias"});
    std::set<std::string> unexpected(report.unexpected.begin(), report.unexpected.end());
    CHECK(unexpected.count("mask_token"));
    CHECK(unexpected.count("decoder_embed.weight"));
    CHECK(unexpected.count("decoder_blocks.0.mixer.in_proj.weight"));
    CHECK(unexpected.count("decoder_norm.weight"));
    CHECK(unexpected.count("decoder_pred.bias"));
    for (const auto& n : unexpected) CHECK((n == "mask_token" || n.rfind("decoder_", 0) == 0));
    CHECK(torch::equal(ft->layers[1]->named_parameters()["mixer.A_b_log"],
                       pre->layers[1]->named_parameters()["mixer.A_b_log"]));
    CHECK(torch::equal(ft->patch_embed->proj->weight, pre->patch_embed->proj->weight));
    if (learned) CHECK(torch::equal(ft->pos_embed, pre->pos_embed));
    // An `encoder.`-prefixed checkpoint (a wrapper's names) loads the same way.
    dfer::io::NamedTensors prefixed;
    for (const auto& [k, t] : state_dict(*pre)) prefixed.emplace_back("encoder." + k, t);
    CHECK(load_pretrained_for_finetune(*ft, prefixed).missing.size() == 2);
  }
}

TEST_CASE("VideoMamba pre-training step: finite loss, gradients everywhere, loss goes down",
          "[models][mamba][pretrain]") {
  torch::manual_seed(14);
  auto spec = tiny_spec();
  spec.drop_path_rate = 0.1;
  auto model = PretrainVisionMamba(spec);
  model->train();
  auto video = torch::randn({2, 3, 4, 32, 32});
  auto mask = half_mask();
  MaeTargetOptions mo;
  mo.patch_size = spec.patch_size;
  mo.tubelet_size = spec.tubelet_size;
  const auto targets = compute_mae_targets(video, mask, mo);
  std::vector<torch::Tensor> trainable;
  for (const auto& kv : model->named_parameters())
    if (kv.value().requires_grad()) trainable.push_back(kv.value());
  torch::optim::Adam opt(trainable, torch::optim::AdamOptions(1e-3));
  double first = 0, last = 0;
  for (int step = 0; step < 5; ++step) {
    opt.zero_grad();
    auto loss = mae_loss(model->forward(video, mask), targets.labels, mo).loss;
    REQUIRE(std::isfinite(loss.item<double>()));
    loss.backward();
    if (step == 0) {
      first = loss.item<double>();
      for (const auto& kv : model->named_parameters()) {
        INFO(kv.key());
        if (kv.key() == "cls_token") {
          CHECK_FALSE(kv.value().requires_grad());  // never in the encoder: frozen, no gradient
          continue;
        }
        REQUIRE(kv.value().grad().defined());
        CHECK(torch::isfinite(kv.value().grad()).all().item<bool>());
        CHECK(kv.value().grad().abs().sum().item<double>() > 0);
      }
    }
    last = loss.item<double>();
    opt.step();
  }
  CHECK(last < first);
}

TEST_CASE("VideoMamba MAC counts: every projection, the convolutions and the scan",
          "[models][mamba][pretrain]") {
  // SPEC-videomamba 2.5's computed VideoMamba-S count at 16 x 160 px, tubelet 1 (L = 1601):
  // 39.0 GMACs of projections and convolutions in the blocks, about 2.8 of scan.
  auto s = spec_from_name("videomamba_small");
  s.img_size = 160;
  s.num_frames = 16;
  s.num_classes = 0;
  auto fine = count_macs(s);
  int64_t layers = 0;
  for (const auto& r : fine.rows)
    if (r.group == "layers") layers = r.macs;
  CHECK(static_cast<double>(layers - fine.macs_scan) / 1e9 == Approx(39.0).epsilon(0.01));
  CHECK(static_cast<double>(fine.macs_scan) / 1e9 == Approx(2.8).epsilon(0.02));

  // Pre-training: the encoder over the visible tokens (tube rule: 10 of 100 per frame at 0.9),
  // the decoder over all 1 + 800 rows, predictions for the masked ones.
  auto p = spec_from_name("pretrain_videomamba_base_dim512_patch16_160");
  auto pre = count_macs(p, 1, 0.9);
  CHECK(pre.num_visible == 80);
  int64_t sum = 0;
  std::set<std::string> groups;
  for (const auto& r : pre.rows) {
    sum += r.macs;
    groups.insert(r.group);
  }
  CHECK(sum == pre.total_macs());
  CHECK(groups == std::set<std::string>{"patch_embed", "layers", "decoder_embed", "decoder_blocks",
                                        "decoder_pred"});
  auto model = PretrainVisionMamba(tiny_spec());
  auto summary = summarize(*model, tiny_spec());
  CHECK(summary.trainable_params == summary.total_params - 32);  // all but the frozen cls_token
}
