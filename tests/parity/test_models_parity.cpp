// Parity of the C++ models with the Python reference fixtures (every expected tensor, both
// attention kernels), and the decoder position-order fix against the reference's quirk.
#include <catch2/catch.hpp>

#include "dfer/io/safetensors.h"
#include "dfer/models/build.h"
#include "dfer/models/parity.h"
#include "dfer/models/weights.h"
#include "dfer/util/error.h"
#include "support/fixtures.h"

#include <fstream>

using namespace dfer::models;

namespace {

void check_fixture(const std::string& name, AttentionBackend backend) {
  if (!dfer::test::require_fixture("reference/" + name)) return;
  ParityOptions opt;
  opt.backend = backend;
  auto r = run_parity((dfer::test::fixtures_root() / "reference" / name).string(), opt);
  INFO(r.to_string());
  CHECK(r.checks.size() > 5);
  for (const auto& c : r.checks) {
    INFO(c.name << ": " << c.note << " max_abs " << c.max_abs);
    CHECK(c.passed);
  }
  CHECK(r.passed());
}

}  // namespace

TEST_CASE("parity: finetune_lgi_small", "[models][parity]") {
  check_fixture("finetune_lgi_small", AttentionBackend::kFused);
  check_fixture("finetune_lgi_small", AttentionBackend::kExplicit);
}

TEST_CASE("parity: finetune_vit_small", "[models][parity]") {
  check_fixture("finetune_vit_small", AttentionBackend::kFused);
  check_fixture("finetune_vit_small", AttentionBackend::kExplicit);
}

TEST_CASE("parity: pretrain_lgi_small", "[models][parity]") {
  check_fixture("pretrain_lgi_small", AttentionBackend::kFused);
  check_fixture("pretrain_lgi_small", AttentionBackend::kExplicit);
}

TEST_CASE("fix_decoder_pos_order reorders visible tokens to raster order", "[models][parity]") {
  if (!dfer::test::require_fixture("reference/pretrain_lgi_small")) return;
  const auto dir = dfer::test::fixtures_root() / "reference" / "pretrain_lgi_small";
  std::ifstream in(dir / "config.json");
  auto spec = spec_from_reference_config(nlohmann::json::parse(in));
  auto weights = dfer::io::load_safetensors((dir / "weights.safetensors").string());
  auto inputs = dfer::io::to_map(dfer::io::load_safetensors((dir / "input.safetensors").string()));
  auto expected =
      dfer::io::to_map(dfer::io::load_safetensors((dir / "expected.safetensors").string()));

  spec.fix_decoder_pos_order = true;
  auto model = build_pretrain(spec);
  load_state(*model, weights, true);
  model->eval();
  torch::NoGradGuard g;
  Taps taps;
  auto out = model->forward(inputs["video"], inputs["mask"], &taps);
  // The encoder is unchanged; the decoder input differs from the quirky reference ...
  CHECK(torch::allclose(taps["encoder_out"], expected["encoder_out"], 1e-4, 1e-4));
  CHECK_FALSE(torch::allclose(taps["decoder_in"], expected["decoder_in"], 1e-3, 1e-3));
  // ... and equals: raster-ordered encoder tokens + the positions of the visible tokens.
  auto mask = inputs["mask"];
  const int64_t B = mask.size(0);
  auto enc = model->encoder->to_raster_order(taps["encoder_out"]);
  auto pos = model->decoder_pos_embed().expand({B, -1, -1});
  auto proj = model->encoder_to_decoder(enc);
  auto vis = proj + pos.index({mask.logical_not()}).view({B, -1, proj.size(2)});
  const int64_t nv = vis.size(1);
  CHECK(torch::allclose(taps["decoder_in"].narrow(1, 0, nv), vis, 1e-5, 1e-5));
  // Masked tokens (mask_token + their positions) are the same as in the reference.
  const int64_t nm = mask.size(1) - nv;
  CHECK(torch::allclose(taps["decoder_in"].narrow(1, nv, nm),
                        expected["decoder_in"].narrow(1, nv, nm), 1e-5, 1e-5));
  CHECK(out.sizes() == expected["outputs"].sizes());
}

TEST_CASE("reference config mapping rejects unknown or unsupported arguments", "[models][parity]") {
  nlohmann::json cfg = {{"model_class", "modeling_finetune.VisionTransformer"},
                        {"constructor", {{"img_size", 32}, {"patch_size", 8}, {"all_frames", 4}}}};
  auto s = spec_from_reference_config(cfg);
  CHECK(s.img_size == 32);
  CHECK(s.num_frames == 4);
  cfg["constructor"]["mystery_option"] = 1;
  CHECK_THROWS_AS(spec_from_reference_config(cfg), dfer::Error);
  cfg["constructor"].erase("mystery_option");
  cfg["constructor"]["keep_temporal_dim"] = true;
  CHECK_THROWS_AS(spec_from_reference_config(cfg), dfer::Error);
  cfg["constructor"]["keep_temporal_dim"] = false;
  cfg["constructor"]["img_size"] = "big";
  CHECK_THROWS_AS(spec_from_reference_config(cfg), dfer::Error);
  CHECK_THROWS_AS(spec_from_reference_config(nlohmann::json::array()), dfer::Error);
  cfg["model_class"] = "modeling_other.Model";
  CHECK_THROWS_AS(spec_from_reference_config(cfg), dfer::Error);
  CHECK_THROWS_AS(run_parity((dfer::test::temp_dir("parity-missing") / "nope").string()),
                  dfer::Error);
}

TEST_CASE("parity: videomamba_tiny_small", "[models][parity][mamba]") {
  check_fixture("videomamba_tiny_small", AttentionBackend::kFused);
}

TEST_CASE("VideoMamba reference config mapping accounts for every constructor argument",
          "[models][parity][mamba]") {
  if (!dfer::test::require_fixture("reference/videomamba_tiny_small")) return;
  const auto dir = dfer::test::fixtures_root() / "reference" / "videomamba_tiny_small";
  auto cfg = read_fixture_config(dir.string());
  auto s = spec_from_reference_config(cfg);
  CHECK(s.backbone == "videomamba");
  CHECK(s.tubelet_size == 1);
  CHECK(s.num_frames == 8);
  CHECK_FALSE(s.use_mean_pooling);
  cfg["constructor"]["ssm_cfg"] = {{"d_state", 8}};
  CHECK(spec_from_reference_config(cfg).d_state == 8);
  cfg["constructor"]["ssm_cfg"] = {{"dt_rank", 8}};
  CHECK_THROWS_AS(spec_from_reference_config(cfg), dfer::Error);
  cfg["constructor"]["ssm_cfg"] = nullptr;
  cfg["constructor"]["bimamba"] = false;
  CHECK_THROWS_AS(spec_from_reference_config(cfg), dfer::Error);
  cfg["constructor"]["bimamba"] = true;
  cfg["constructor"]["if_devide_out"] = true;
  CHECK_THROWS_AS(spec_from_reference_config(cfg), dfer::Error);
}
