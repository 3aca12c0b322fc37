// State-dict names and shapes of the released configurations against the reference inventories
// (finetune_lgi_base_keys/*.tsv), parameter counts, and the key sets of the LGBlock options.
#include <catch2/catch.hpp>

#include "dfer/models/build.h"
#include "dfer/models/weights.h"
#include "support/fixtures.h"

#include <fstream>
#include <set>
#include <sstream>

using namespace dfer::models;

namespace {

struct KeyRow {
  std::string name, shape;
};

std::vector<KeyRow> read_tsv(const std::filesystem::path& p) {
  std::ifstream in(p);
  REQUIRE(in.good());
  std::vector<KeyRow> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::istringstream ss(line);
    KeyRow r;
    std::getline(ss, r.name, '\t');
    std::getline(ss, r.shape, '\t');
    rows.push_back(r);
  }
  return rows;
}

std::string shape_x(const torch::Tensor& t) {
  std::string s;
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "x" : "") + std::to_string(t.size(i));
  return s;
}

void check_against(const torch::nn::Module& m, const std::string& tsv) {
  auto rows = read_tsv(dfer::test::fixtures_root() / "reference" / "finetune_lgi_base_keys" / tsv);
  auto sd = state_dict(m);
  REQUIRE(sd.size() == rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    INFO("index " << i);
    CHECK(sd[i].first == rows[i].name);
    CHECK(shape_x(sd[i].second) == rows[i].shape);
  }
}

int64_t count_params(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& kv : unique_named_parameters(m)) n += kv.second.numel();
  return n;
}

std::set<std::string> block_keys(const ModelSpec& s) {
  auto m = build_finetune(s);
  std::set<std::string> keys;
  for (const auto& kv : state_dict(*m))
    if (kv.first.rfind("blocks.0.", 0) == 0) keys.insert(kv.first.substr(9));
  return keys;
}

ModelSpec tiny_lgi() {
  ModelSpec s = released_finetune_spec(7);
  s.img_size = 32;
  s.patch_size = 8;
  s.num_frames = 4;
  s.embed_dim = 16;
  s.num_heads = 2;
  s.depth = 1;
  s.lg_region_size = {1, 2, 4};
  return s;
}

}  // namespace

TEST_CASE("released LGI-Former keys match keys.tsv exactly", "[models][keys]") {
  if (!dfer::test::require_fixture("reference/finetune_lgi_base_keys")) return;
  auto m = build_finetune(released_finetune_spec(7));
  check_against(*m, "keys.tsv");
  CHECK(count_params(*m) == 84878343);
  CHECK(count_params(*build_finetune(released_finetune_spec(11))) == 84880395);
}

TEST_CASE("released pre-train keys match keys_pretrain.tsv exactly", "[models][keys]") {
  if (!dfer::test::require_fixture("reference/finetune_lgi_base_keys")) return;
  auto m = build_pretrain(released_pretrain_spec());
  check_against(*m, "keys_pretrain.tsv");
  CHECK(count_params(*m) == 92760192);
}

TEST_CASE("ViT-B/16 baseline keys match keys_vit_base_patch16_160.tsv", "[models][keys]") {
  if (!dfer::test::require_fixture("reference/finetune_lgi_base_keys")) return;
  ModelSpec s = spec_from_name("vit_base_patch16_160");
  s.num_classes = 7;
  s.init_scale = 0.001;
  auto m = build_finetune(s);
  check_against(*m, "keys_vit_base_patch16_160.tsv");
  CHECK(count_params(*m) == 86232583);
}

TEST_CASE("LGBlock options register exactly upstream's keys", "[models][keys]") {
  const std::set<std::string> attn = {"q_bias",    "v_bias",      "q.weight",
                                      "kv.weight", "proj.weight", "proj.bias"};
  auto with = [&](std::set<std::string> keys, const std::string& prefix) {
    for (const auto& a : attn) keys.insert(prefix + "." + a);
    return keys;
  };
  auto norms = [](std::initializer_list<const char*> names) {
    std::set<std::string> k;
    for (auto n : names) {
      k.insert(std::string(n) + ".weight");
      k.insert(std::string(n) + ".bias");
    }
    return k;
  };
  const auto mlp = std::set<std::string>{"norm2.weight", "norm2.bias",     "mlp.fc1.weight",
                                         "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"};
  auto merge = [](std::set<std::string> a, const std::set<std::string>& b) {
    a.insert(b.begin(), b.end());
    return a;
  };

  auto s = tiny_lgi();
  auto released = merge(with(with(with(norms({"first_attn_norm0", "second_attn_norm0",
                                              "third_attn_norm0", "third_attn_norm1"}),
                                       "first_attn"),
                                  "second_attn"),
                             "third_attn"),
                        mlp);
  CHECK(block_keys(s) == released);

  auto cross_first = s;
  cross_first.lg_first_attn_type = "cross";
  auto expect = released;
  expect.insert({"first_attn_norm1.weight", "first_attn_norm1.bias"});
  CHECK(block_keys(cross_first) == expect);

  auto self_third = s;
  self_third.lg_third_attn_type = "self";
  expect = released;
  expect.erase("third_attn_norm1.weight");
  expect.erase("third_attn_norm1.bias");
  CHECK(block_keys(self_third) == expect);

  auto no_second = s;
  no_second.lg_no_second = true;
  expect = merge(
      with(with(norms({"first_attn_norm0", "third_attn_norm0", "third_attn_norm1"}), "first_attn"),
           "third_attn"),
      mlp);
  CHECK(block_keys(no_second) == expect);

  auto no_third = s;
  no_third.lg_no_third = true;
  expect = merge(
      with(with(norms({"first_attn_norm0", "second_attn_norm0"}), "first_attn"), "second_attn"),
      mlp);
  CHECK(block_keys(no_third) == expect);

  // Sharing: upstream's state_dict lists the shared module under every name; the unique
  // parameter list (what an optimizer gets) has it once.
  auto share = s;
  share.lg_attn_param_sharing_first_third = true;
  CHECK(block_keys(share) == released);
  auto m = build_finetune(share);
  CHECK(m->named_parameters().size() - unique_named_parameters(*m).size() == 6);
  auto* blk = m->blocks[0]->as<LGBlockImpl>();
  REQUIRE(blk != nullptr);
  CHECK(blk->first_attn.ptr() == blk->third_attn.ptr());
  CHECK(blk->first_attn.ptr() != blk->second_attn.ptr());
}

TEST_CASE("use_mean_pooling=false has norm instead of fc_norm", "[models][keys]") {
  auto s = tiny_lgi();
  s.use_mean_pooling = false;
  auto m = build_finetune(s);
  std::set<std::string> keys;
  for (const auto& kv : state_dict(*m)) keys.insert(kv.first);
  CHECK(keys.count("norm.weight") == 1);
  CHECK(keys.count("fc_norm.weight") == 0);
  auto sd = state_dict(*m);
  CHECK(sd[sd.size() - 3].first == "norm.bias");
  m->eval();
  torch::NoGradGuard g;
  auto [logits, feat] = m->forward_with_features(torch::randn({2, 3, 4, 32, 32}));
  CHECK(logits.sizes() == torch::IntArrayRef({2, 7}));
}
