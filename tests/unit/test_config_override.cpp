// Overrides (`section.key VALUE`), no-effect warnings, programmatic setters, dump/write.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "dfer/config/config.h"
#include "dfer/util/error.h"
#include "support/fixtures.h"

using Catch::Matchers::Contains;
using dfer::Config;

namespace {
std::string override_error(const std::string& key, const std::string& value) {
  Config cfg;
  try {
    cfg.apply_override(key, value);
  } catch (const dfer::UsageError& e) {
    return e.what();
  }
  FAIL("expected a UsageError for " << key << " " << value);
  return {};
}
}  // namespace

TEST_CASE("overrides parse scalars, lists, bools and null", "[config]") {
  Config cfg;
  cfg.apply_override("optimization.lr", "0.01");
  cfg.apply_override("model.lg_region_size", "[2,2,10]");
  cfg.apply_override("MODEL.USE_MEAN_POOLING", "false");
  cfg.apply_override("model.depth", "12");
  cfg.apply_override("optimization.clip_grad", "null");
  cfg.apply_override("optimization.warmup_steps", "-1");
  cfg.apply_override("optimization.opt_betas", "[0.9, 0.95]");
  cfg.apply_override("augmentation.cutmix_minmax", "[0.2, 0.8]");
  cfg.apply_override("wandb.tags", "[x, y]");
  CHECK(cfg.get_float("optimization.lr") == 0.01);
  CHECK(cfg.get_int_list("model.lg_region_size") == std::vector<std::int64_t>{2, 2, 10});
  CHECK_FALSE(cfg.get_bool("model.use_mean_pooling"));
  CHECK(cfg.get_opt_int("model.depth") == std::optional<std::int64_t>(12));
  CHECK(cfg.is_null("optimization.clip_grad"));
  CHECK(cfg.get_int("optimization.warmup_steps") == -1);
  CHECK(cfg.get_float_list("optimization.opt_betas") == std::vector<double>{0.9, 0.95});
  CHECK(cfg.get_opt_float_list("augmentation.cutmix_minmax") == std::vector<double>{0.2, 0.8});
  CHECK(cfg.get_string_list("wandb.tags") == std::vector<std::string>{"x", "y"});
  CHECK(cfg.is_explicit("optimization.lr"));
  CHECK_FALSE(cfg.is_explicit("optimization.min_lr"));
  cfg.apply_override("model.depth", "null");
  CHECK_FALSE(cfg.get_opt_int("model.depth"));
}

TEST_CASE("string overrides keep paths verbatim", "[config]") {
  Config cfg;
  cfg.apply_override("training.finetune", "ckpt/a b#c.safetensors");
  CHECK(cfg.get_string("training.finetune") == "ckpt/a b#c.safetensors");
  cfg.apply_override("data.data_path", "C:/data: split01");
  CHECK(cfg.get_string("data.data_path") == "C:/data: split01");
  cfg.apply_override("training.resume", "");
  CHECK(cfg.get_string("training.resume").empty());
  cfg.apply_override("data.data_path", "'quoted'");
  CHECK(cfg.get_string("data.data_path") == "quoted");
  cfg.apply_override("training.finetune", "null");  // nullable: null means none
  CHECK_FALSE(cfg.get_opt_string("training.finetune"));
  CHECK_THAT(override_error("data.data_path", "null"), Contains("expected string, got null"));
}

TEST_CASE("override errors name the override, the key and the problem", "[config]") {
  std::string msg = override_error("optimization.lr", "fast");
  CHECK_THAT(msg, Contains("override 'optimization.lr fast'"));
  CHECK_THAT(msg, Contains("expected float"));
  CHECK_THAT(override_error("optimizaton.lr", "0.1"), Contains("did you mean 'optimization.lr'"));
  CHECK_THAT(override_error("model", "1"), Contains("unknown key 'model'"));
  CHECK_THAT(override_error("model.lg_region_size", "[2,2"), Contains("not valid YAML"));
  CHECK_THAT(override_error("model.attn_type", "xyz"), Contains("local_global, joint"));
  CHECK_THAT(override_error("data.num_frames", ""), Contains("empty value"));
  CHECK_THAT(override_error("model.lg_region_size", ", 2, 10]"), Contains("not valid YAML"));
  CHECK_THAT(override_error("augmentation.mixup_prob", "1.5"), Contains("outside [0.0, 1.0]"));
}

TEST_CASE("no-effect keys warn once, ignored upstream keys warn when present", "[config]") {
  Config cfg;
  cfg.load_yaml_string("system:\n  world_size: 1\n", "a.yaml");  // default value: silent
  CHECK(cfg.warnings().empty());
  cfg.load_yaml_string("system:\n  world_size: 4\n", "a.yaml");
  REQUIRE(cfg.warnings().size() == 1);
  CHECK_THAT(cfg.warnings()[0], Contains("system.world_size"));
  cfg.apply_override("system.world_size", "8");
  cfg.load_yaml_string("system:\n  world_size: 2\n", "a.yaml");
  CHECK(cfg.warnings().size() == 1);  // once per key
  cfg.load_yaml_string("training:\n  model_ema: false\nsystem:\n  backend: gloo\n", "b.yaml");
  REQUIRE(cfg.warnings().size() == 3);
  CHECK_THAT(cfg.warnings()[1], Contains("training.model_ema"));
  CHECK_THAT(cfg.warnings()[2], Contains("system.backend"));
  // Active keys never warn.
  cfg.apply_override("optimization.lr", "0.5");
  CHECK(cfg.warnings().size() == 3);
}

TEST_CASE("ignored upstream keys are dumped only when set", "[config]") {
  Config cfg;
  CHECK_THAT(cfg.dump_yaml(), !Contains("model_ema:"));
  CHECK_THAT(cfg.dump_yaml(), Contains("modelema_: false"));
  cfg.apply_override("training.model_ema", "true");
  CHECK_THAT(cfg.dump_yaml(), Contains("  model_ema: true\n"));
}

TEST_CASE("setters check types and values", "[config]") {
  Config cfg;
  cfg.set_int("model.depth", 4);
  cfg.set_float("optimization.lr", 2.5e-4);
  cfg.set_int("optimization.min_lr", 0);  // an int for a float key becomes a float
  cfg.set_string("system.device", "cpu");
  cfg.set("optimization.clip_grad", dfer::config::Value(std::monostate{}));
  CHECK(cfg.get_int("model.depth") == 4);
  CHECK(cfg.get_float("optimization.min_lr") == 0.0);
  CHECK_FALSE(cfg.is_explicit("model.depth"));
  CHECK_THROWS_AS(cfg.set_string("model.depth", "4"), dfer::UsageError);
  CHECK_THROWS_AS(cfg.set_int("data.num_frames", 0), dfer::UsageError);
  CHECK_THROWS_AS(cfg.set("data.num_frames", dfer::config::Value(std::monostate{})),
                  dfer::UsageError);
  CHECK_THROWS_AS(cfg.set_string("system.precision", "fp64"), dfer::UsageError);
}

TEST_CASE("getters reject wrong types, null and unknown keys", "[config]") {
  Config cfg;
  CHECK_THROWS_AS(cfg.get_int("optimization.lr"), dfer::Error);
  CHECK_THROWS_AS(cfg.get_int("model.depth"), dfer::Error);  // null by default
  CHECK_THROWS_AS(cfg.get_bool("model.nope"), dfer::Error);
  CHECK(cfg.get_float("data.num_frames") == 16.0);  // ints read as floats
}

TEST_CASE("dump -> reload reproduces every value after edits", "[config]") {
  Config cfg;
  cfg.apply_override("data.data_path", "dir with 'quotes' and: colon");
  cfg.apply_override("wandb.notes", "line1\nline2\ttab");
  cfg.apply_override("wandb.tags", "['a,b', '[x]', 'null', 'true', '1e3', '-x', '']");
  cfg.apply_override("optimization.lr", "1e-7");
  cfg.apply_override("optimization.weight_decay_end", "0.1");
  cfg.apply_override("system.output_dir", "./out/run 1");
  cfg.apply_override("model.name", "123");
  Config again;
  again.load_yaml_string(cfg.dump_yaml(), "dump");
  for (const auto& k : dfer::config::all_keys()) {
    if (k.status == dfer::config::KeyStatus::kIgnoredUpstream) continue;
    INFO(k.full_name());
    CHECK(dfer::config::values_equal(cfg.value(k.full_name()), again.value(k.full_name())));
  }
  CHECK(again.dump_yaml() == cfg.dump_yaml());
}

TEST_CASE("write_effective writes config.yaml atomically into the output dir", "[config]") {
  const auto dir = dfer::test::temp_dir("cfg-write") / "nested" / "run";
  Config cfg;
  cfg.apply_override("training.epochs", "3");
  const std::string path = cfg.write_effective(dir.string());
  CHECK(path == (dir / "config.yaml").string());
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == cfg.dump_yaml());
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) (void)e, ++files;
  CHECK(files == 1);  // no temp file left behind
  Config back;
  back.load_yaml_file(path);
  CHECK(back.get_int("training.epochs") == 3);
}
