// End-to-end VideoMamba runs of the real executables on the tiny synthetic dataset: masked
// pre-training with dfer-pretrain writes checkpoints whose encoder names are the fine-tune
// model's, dfer-finetune trains from them, and --eval --resume repeats the finished run's test.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "dfer/io/safetensors.h"
#include "support/fixtures.h"
#include "support/programs.h"
#include "support/tiny_runs.h"

namespace fs = std::filesystem;
using dfer::test::read_jsonl;
using dfer::test::run;
using dfer::test::slurp;

TEST_CASE("VideoMamba pre-trains 2 epochs with dfer-pretrain", "[e2e][mamba]") {
  const auto& d = dfer::test::tiny_data();
  const auto pre = d.root / "mamba_pre";
  REQUIRE(run(dfer::test::mamba_pretrain_cmd(pre), (d.root / "mamba_pre.log").string()) == 0);
  for (const char* f : {"checkpoint-0.safetensors", "checkpoint-1.safetensors",
                        "checkpoint-1.state.safetensors", "config.yaml", "log.txt", "train.log"}) {
    INFO(f);
    CHECK(fs::exists(pre / f));
  }
  const auto lines = read_jsonl(pre / "metrics.jsonl");
  REQUIRE(lines.size() == 2);
  for (const auto& l : lines) CHECK(std::isfinite(l.at("train_loss").get<double>()));
  CHECK(slurp(pre / "train.log").find("Mamba pixel decoder dim 16 depth 1") != std::string::npos);

  // The weights carry the fine-tune VisionMamba's encoder names at the top level, the decoder
  // beside them; cls_token is there (frozen, for the names) though it never trains.
  std::set<std::string> names;
  for (const auto& kv : dfer::io::load_safetensors((pre / "checkpoint-1.safetensors").string()))
    names.insert(kv.first);
  for (const char* n :
       {"patch_embed.proj.weight", "cls_token", "temporal_pos_embedding", "layers.1.mixer.A_b_log",
        "layers.1.norm.weight", "norm_f.weight", "mask_token", "decoder_embed.weight",
        "decoder_blocks.0.mixer.D_b", "decoder_norm.bias", "decoder_pred.weight"}) {
    INFO(n);
    CHECK(names.count(n));
  }
  CHECK_FALSE(names.count("layers.2.norm.weight"));
  CHECK_FALSE(names.count("pos_embed"));  // the fork's fixed sinusoid table is not stored
}

TEST_CASE("VideoMamba fine-tunes from its pre-training, and --eval --resume repeats its test",
          "[e2e][mamba]") {
  const auto& d = dfer::test::tiny_data();
  const auto pre = d.root / "mamba_ft_pre", ft = d.root / "mamba_ft";
  REQUIRE(run(dfer::test::mamba_pretrain_cmd(pre), (d.root / "mamba_ft_pre.log").string()) == 0);
  auto cmd = dfer::test::finetune_cmd(ft, 2);
  cmd.insert(cmd.end(), {"model.name", "videomamba_base_dim512_patch16_160", "model.embed_dim",
                         "32", "model.depth", "2", "training.finetune",
                         (pre / "checkpoint-1.safetensors").string()});
  REQUIRE(run(cmd, (d.root / "mamba_ft.log").string()) == 0);
  // Every encoder tensor of the pre-training came in; only the classifier head starts fresh.
  const std::string log = slurp(ft / "train.log");
  CHECK(log.find("into VisionMamba") != std::string::npos);
  CHECK(log.find("['head.weight', 'head.bias']") != std::string::npos);
  const auto lines = read_jsonl(ft / "metrics.jsonl");
  REQUIRE(lines.size() == 2);
  for (const auto& l : lines) CHECK(std::isfinite(l.at("train_loss").get<double>()));
  const auto results = nlohmann::json::parse(slurp(ft / "final_results.json"));
  CHECK(results.at("num_videos").get<int64_t>() > 0);

  // The finished run's weights, evaluated alone, give the same test.
  auto eval = dfer::test::finetune_cmd(d.root / "mamba_eval", 2);
  eval.insert(eval.begin() + 1, {"--eval", "--resume", (ft / "checkpoint-1.safetensors").string()});
  eval.insert(eval.end(), {"model.name", "videomamba_base_dim512_patch16_160", "model.embed_dim",
                           "32", "model.depth", "2"});
  REQUIRE(run(eval, (d.root / "mamba_eval.log").string()) == 0);
  const auto again = nlohmann::json::parse(slurp(d.root / "mamba_eval" / "final_results.json"));
  for (const char* key : {"final_uar", "final_war", "final_confusion_matrix"})
    CHECK(again.at(key) == results.at(key));
}
