// Config loading: the original YAML files load unchanged and every key in them round-trips
// (checked against an independent yaml-cpp reading); malformed files fail with file:line:key.
#include <yaml-cpp/yaml.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "dfer/config/config.h"
#include "dfer/util/error.h"
#include "support/fixtures.h"

using Catch::Matchers::Contains;
using dfer::Config;

namespace {

const char* kFixtures[] = {"configs/dfew_combine.yaml", "configs/voxceleb2_pretrain.yaml"};

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Compares a Config value with the YAML node using yaml-cpp's own conversions (independent of
// dfer's scalar parser).
void check_same(const Config& cfg, const std::string& key, const YAML::Node& node) {
  INFO("key " << key);
  const dfer::config::KeyDef* def = dfer::config::find_key(key);
  REQUIRE(def != nullptr);
  if (node.IsNull()) {
    CHECK(cfg.is_null(key));
    return;
  }
  using dfer::config::ValueType;
  switch (def->type) {
    case ValueType::kBool:
      CHECK(cfg.get_bool(key) == node.as<bool>());
      break;
    case ValueType::kInt:
      CHECK(cfg.get_int(key) == node.as<std::int64_t>());
      break;
    case ValueType::kFloat:
      CHECK(cfg.get_float(key) == node.as<double>());
      break;
    case ValueType::kString:
      CHECK(cfg.get_string(key) == node.as<std::string>());
      break;
    case ValueType::kIntList:
      CHECK(cfg.get_int_list(key) == node.as<std::vector<std::int64_t>>());
      break;
    case ValueType::kFloatList:
      CHECK(cfg.get_float_list(key) == node.as<std::vector<double>>());
      break;
    case ValueType::kStringList:
      CHECK(cfg.get_string_list(key) == node.as<std::vector<std::string>>());
      break;
  }
}

std::string load_error(const std::string& yaml, const std::string& source = "test.yaml") {
  Config cfg;
  try {
    cfg.load_yaml_string(yaml, source);
  } catch (const dfer::UsageError& e) {
    return e.what();
  }
  FAIL("expected a UsageError for:\n" << yaml);
  return {};
}

}  // namespace

TEST_CASE("original configs load unchanged and every key round-trips", "[config]") {
  for (const char* sub : kFixtures) {
    if (!dfer::test::require_fixture(sub)) return;
    const auto path = dfer::test::fixtures_root() / sub;
    INFO("fixture " << sub);
    Config cfg;
    REQUIRE_NOTHROW(cfg.load_yaml_file(path.string()));
    Config again;
    REQUIRE_NOTHROW(again.load_yaml_string(cfg.dump_yaml(), "dump"));
    CHECK(again.dump_yaml() == cfg.dump_yaml());

    const YAML::Node root = YAML::LoadFile(path.string());
    int keys = 0;
    for (const auto& sec : root) {
      for (const auto& kv : sec.second) {
        const std::string key = sec.first.as<std::string>() + "." + kv.first.as<std::string>();
        check_same(cfg, key, kv.second);
        check_same(again, key, kv.second);
        CHECK(cfg.is_explicit(key));
        ++keys;
      }
    }
    CHECK(keys > 80);
  }
}

TEST_CASE("fixture values that matter are what the file says", "[config]") {
  if (!dfer::test::require_fixture("configs/dfew_combine.yaml")) return;
  Config cfg;
  cfg.load_yaml_file((dfer::test::fixtures_root() / "configs/dfew_combine.yaml").string());
  CHECK(cfg.get_int_list("model.lg_region_size") == std::vector<std::int64_t>{2, 2, 10});
  CHECK(cfg.get_string("data.task") == "combine");
  CHECK(cfg.get_float("training.combine_loss_alpha") == 1.0);  // written "combine_loss_alpha : 1.0"
  CHECK(cfg.get_float("optimization.min_lr") == 1e-6);
  CHECK(cfg.is_null("optimization.clip_grad"));
  CHECK_FALSE(cfg.get_opt_float("optimization.weight_decay_end"));
  CHECK(cfg.get_bool("model.keep_temporal_dim"));
  CHECK_FALSE(cfg.get_opt_int("model.depth"));  // commented out: derived from the name
  CHECK(cfg.get_string("training.resume").empty());
  // Keys the file does not set keep the schema defaults.
  CHECK(cfg.get_int("data.short_side_size") == 160);
  CHECK_FALSE(cfg.is_explicit("data.short_side_size"));
}

TEST_CASE("upper-case keys and sections match (wandb.RUN_NAME)", "[config]") {
  Config cfg;
  cfg.load_yaml_string("WANDB:\n  RUN_NAME: run 1\n  TAGS: [a, 'b c']\nModel:\n  Depth: 12\n",
                       "t.yaml");
  CHECK(cfg.get_opt_string("wandb.run_name") == std::optional<std::string>("run 1"));
  CHECK(cfg.get_string_list("wandb.tags") == std::vector<std::string>{"a", "b c"});
  CHECK(cfg.get_int("MODEL.DEPTH") == 12);
  const std::string dump = cfg.dump_yaml();
  CHECK_THAT(dump, Contains("  run_name: 'run 1'\n"));
  CHECK_THAT(dump, Contains("wandb:\n"));
  CHECK_THAT(dump, !Contains("RUN_NAME"));
}

TEST_CASE("a misspelt key names the key, the file and the line", "[config]") {
  const std::string msg =
      load_error("model:\n  name: vit_base_dim512_no_depth_patch16_160\n  dpeth: 16\n", "my.yaml");
  CHECK_THAT(msg, Contains("my.yaml:3:"));
  CHECK_THAT(msg, Contains("unknown key 'model.dpeth'"));
  CHECK_THAT(msg, Contains("did you mean 'model.depth'"));

  // The same inside an original file, at the line where the misspelling is.
  if (!dfer::test::require_fixture("configs/voxceleb2_pretrain.yaml")) return;
  std::string text = read_text(dfer::test::fixtures_root() / "configs/voxceleb2_pretrain.yaml");
  const auto pos = text.find("lg_region_size");
  REQUIRE(pos != std::string::npos);
  const auto line = 1 + std::count(text.begin(), text.begin() + pos, '\n');
  text.replace(pos, 14, "lg_regoin_size");
  const std::string msg2 = load_error(text, "vox.yaml");
  CHECK_THAT(msg2, Contains("vox.yaml:" + std::to_string(line) + ":"));
  CHECK_THAT(msg2, Contains("model.lg_regoin_size"));
}

TEST_CASE("a key in the wrong section suggests the right one", "[config]") {
  CHECK_THAT(load_error("model:\n  batch_size: 4\n"), Contains("did you mean 'data.batch_size'"));
}

TEST_CASE("an unknown section is rejected with its line", "[config]") {
  const std::string msg = load_error("model:\n  depth: 2\nmodle:\n  depth: 3\n");
  CHECK_THAT(msg, Contains("test.yaml:3:"));
  CHECK_THAT(msg, Contains("unknown section 'modle'"));
  CHECK_THAT(msg, Contains("did you mean 'model'"));
}

TEST_CASE("a wrong type names key, expected type and value", "[config]") {
  std::string msg = load_error("data:\n  batch_size: sixteen\n");
  CHECK_THAT(msg, Contains("test.yaml:2:"));
  CHECK_THAT(msg, Contains("'data.batch_size'"));
  CHECK_THAT(msg, Contains("expected int"));
  CHECK_THAT(msg, Contains("sixteen"));

  CHECK_THAT(load_error("model:\n  use_mean_pooling: 1\n"), Contains("expected bool"));
  CHECK_THAT(load_error("model:\n  lg_region_size: [2, 2.5, 10]\n"),
             Contains("expected list of 3 ints, got [2, 2.5, 10]"));
  CHECK_THAT(load_error("model:\n  lg_region_size: 2\n"), Contains("expected list of 3 ints"));
  CHECK_THAT(load_error("model:\n  lg_region_size: [2, 5]\n"), Contains("has 2 items, expected 3"));
  CHECK_THAT(load_error("optimization:\n  lr: '0.1'\n"), Contains("expected float, got '0.1'"));
  CHECK_THAT(load_error("optimization:\n  lr: .inf\n"), Contains("expected float"));
  CHECK_THAT(load_error("data:\n  num_frames: 16.5\n"), Contains("expected int"));
  CHECK_THAT(load_error("data:\n  num_frames: null\n"), Contains("expected int, got null"));
  CHECK_THAT(load_error("data:\n  num_frames: {a: 1}\n"), Contains("expected int, got {"));
  CHECK_THAT(load_error("data:\n  num_frames: 0\n"), Contains("below the minimum 1"));
}

TEST_CASE("lossless leniency: ints for floats, integral floats for ints, YAML 1.1 bools",
          "[config]") {
  Config cfg;
  cfg.load_yaml_string(
      "training:\n  combine_loss_alpha : 1\n  epochs: 50.0\noptimization:\n  opt_betas: [1, 0.5]\n"
      "model:\n  use_mean_pooling: yes\n  normalize_target: False\n",
      "t.yaml");
  CHECK(cfg.get_float("training.combine_loss_alpha") == 1.0);
  CHECK(cfg.get_int("training.epochs") == 50);
  CHECK(cfg.get_float_list("optimization.opt_betas") == std::vector<double>{1.0, 0.5});
  CHECK(cfg.get_bool("model.use_mean_pooling"));
  CHECK_FALSE(cfg.get_bool("model.normalize_target"));
}

TEST_CASE("enumerated strings list the allowed values", "[config]") {
  std::string msg = load_error("model:\n  attn_type: global\n");
  CHECK_THAT(msg, Contains("'model.attn_type'"));
  CHECK_THAT(msg, Contains("local_global, joint"));
  CHECK_THAT(load_error("system:\n  precision: fp8\n"), Contains("fp32, bf16, fp16"));
  CHECK_THAT(load_error("system:\n  device: gpu\n"), Contains("not a device"));
  CHECK_THAT(load_error("model:\n  lg_classify_token_type: cls\n"), Contains("org, region, all"));
  Config cfg;
  cfg.load_yaml_string("system:\n  device: cuda:1\ndata:\n  task: class\n", "t.yaml");
  CHECK(cfg.get_string("system.device") == "cuda:1");
  CHECK(cfg.get_string("data.task") == "classification");  // upstream default spelling
}

TEST_CASE("structural errors: syntax, duplicates, shapes, documents", "[config]") {
  CHECK_THAT(load_error("model:\n  depth: [1, 2\n"), Contains("YAML syntax error"));
  CHECK_THAT(load_error("model:\n  depth: 1\n  DEPTH: 2\n"),
             Contains("duplicate key 'model.depth' (first at line 2)"));
  CHECK_THAT(load_error("model:\n  depth: 1\nmodel:\n  drop: 0.1\n"),
             Contains("duplicate section"));
  CHECK_THAT(load_error("- model\n"), Contains("mapping of sections"));
  CHECK_THAT(load_error("model: 3\n"), Contains("section 'model' must be a mapping"));
  CHECK_THAT(load_error("model:\n  depth: 1\n---\ndata:\n  num_frames: 8\n"),
             Contains("one YAML document"));
  CHECK_THAT(load_error("model:\n  ? [a]\n  : 1\n"), Contains("keys must be plain names"));
  // yaml-cpp 0.7 skips these stray tokens without consuming them (LoadAll would never return).
  CHECK_THAT(load_error(", 2, 10]"), Contains("test.yaml:1: YAML syntax error: unexpected ','"));
  CHECK_THAT(load_error("model:\n  depth: 1\n...\n,"), Contains("test.yaml:4:"));
}

TEST_CASE("empty files and empty sections keep the defaults", "[config]") {
  Config cfg;
  cfg.load_yaml_string("", "empty.yaml");
  cfg.load_yaml_string("# only a comment\n", "c.yaml");
  cfg.load_yaml_string("pretraining:\n", "s.yaml");
  CHECK(cfg.dump_yaml() == Config().dump_yaml());
}

TEST_CASE("a failed load leaves the config untouched", "[config]") {
  Config cfg;
  cfg.load_yaml_string("data:\n  num_frames: 8\n", "a.yaml");
  const std::string before = cfg.dump_yaml();
  CHECK_THROWS_AS(cfg.load_yaml_string("data:\n  batch_size: 3\n  nope: 1\n", "b.yaml"),
                  dfer::UsageError);
  CHECK(cfg.dump_yaml() == before);
}

TEST_CASE("missing config file is a usage error naming it", "[config]") {
  Config cfg;
  try {
    cfg.load_yaml_file("no/such/file.yaml");
    FAIL("no error");
  } catch (const dfer::Error& e) {
    CHECK(e.kind() == dfer::ErrorKind::kUsage);
    CHECK_THAT(e.what(), Contains("no/such/file.yaml"));
  }
}
