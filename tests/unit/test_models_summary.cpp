// MAC and parameter counts against finetune_lgi_base_keys/summary.json (fvcore-style counting).
#include <catch2/catch.hpp>

#include "dfer/models/build.h"
#include "dfer/models/summary.h"
#include "support/fixtures.h"

#include <nlohmann/json.hpp>

#include <fstream>

using namespace dfer::models;

namespace {

nlohmann::json summary_json() {
  std::ifstream in(dfer::test::fixtures_root() / "reference" / "finetune_lgi_base_keys" /
                   "summary.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

void check_breakdown(const ModelSummary& s, const nlohmann::json& ref) {
  const auto& b = ref.at("breakdown_MACs");
  CHECK(s.macs_linear == b.at("linear/mm").get<int64_t>());
  CHECK(s.macs_attention == b.at("bmm(attn)").get<int64_t>());
  CHECK(s.macs_conv == b.at("conv").get<int64_t>());
}

int64_t macs_of(const ModelSummary& s, const std::string& group) {
  for (const auto& r : s.rows)
    if (r.group == group) return r.macs;
  return -1;
}

}  // namespace

TEST_CASE("LGI-Former base: 49.65 GMACs, 84,878,343 params", "[models][summary]") {
  if (!dfer::test::require_fixture("reference/finetune_lgi_base_keys")) return;
  auto ref = summary_json().at("finetune_model");
  auto spec = released_finetune_spec(7);
  auto s = summarize(*build_finetune(spec), spec);
  CHECK(s.total_params == ref.at("params").get<int64_t>());
  CHECK(double(s.total_macs()) / 1e9 ==
        Approx(ref.at("GMACs_16x160x160").get<double>()).epsilon(0.01));
  check_breakdown(s, ref);  // the analytic count is exact, not just within 1 %
  CHECK(macs_of(s, "patch_embed") == 629145600);
  CHECK(macs_of(s, "head") == 512 * 7);
  CHECK_FALSE(s.to_string().empty());
  // Batch scales linearly.
  CHECK(count_macs(spec, 4).total_macs() == 4 * s.total_macs());
}

TEST_CASE("ViT-B/16 baseline: 80.69 GMACs, 86,232,583 params", "[models][summary]") {
  if (!dfer::test::require_fixture("reference/finetune_lgi_base_keys")) return;
  auto ref = summary_json().at("vit_b16_baseline");
  auto spec = spec_from_name("vit_base_patch16_160");
  spec.num_classes = 7;
  auto s = summarize(*build_finetune(spec), spec);
  CHECK(s.total_params == ref.at("params").get<int64_t>());
  CHECK(double(s.total_macs()) / 1e9 ==
        Approx(ref.at("GMACs_16x160x160").get<double>()).epsilon(0.01));
  check_breakdown(s, ref);
}

TEST_CASE("pre-train model at 90% part_window masking: 14.03 GMACs", "[models][summary]") {
  if (!dfer::test::require_fixture("reference/finetune_lgi_base_keys")) return;
  auto ref = summary_json().at("pretrain_model");
  auto spec = released_pretrain_spec();
  auto s = summarize(*build_pretrain(spec), spec, 1, 0.9);
  CHECK(s.num_visible == 80);
  CHECK(s.total_params == ref.at("params").get<int64_t>());
  CHECK(double(s.total_macs()) / 1e9 ==
        Approx(ref.at("GMACs_16x160x160_mask0p9_part_window").get<double>()).epsilon(0.01));
  check_breakdown(s, ref);
  int64_t params = 0;
  for (const auto& r : s.rows) params += r.params;
  CHECK(params == s.total_params);
  bool has_decoder_blocks = false;
  for (const auto& r : s.rows) has_decoder_blocks |= r.group == "decoder.blocks" && r.params > 0;
  CHECK(has_decoder_blocks);
}
