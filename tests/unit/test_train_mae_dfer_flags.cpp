// MAE-DFER's argparse flags on dfer-finetune / dfer-pretrain: translation into config overrides,
// argparse defaults without a config file, abbreviations, quirks and errors; and log.txt's lines
// in the reference's format.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

#include "dfer/config/config.h"
#include "dfer/train/mae_dfer_flags.h"
#include "dfer/train/original_log.h"
#include "dfer/util/error.h"
#include "support/fixtures.h"

using namespace dfer::train;

namespace {

const std::vector<NativeFlag> kNative = {{"--config", true},     {"-c", true},
                                         {"--output_dir", true}, {"--resume", true},
                                         {"--seed", true},       {"--eval", false},
                                         {"--dist_eval", false}, {"--local_rank", true},
                                         {"-v", false},          {"--dump-config", false}};

// The config the translated arguments give: native flags (and their values) skipped, the rest
// applied as KEY VALUE overrides in order.
dfer::Config config_of(const MaeDferTranslation& t) {
  dfer::Config cfg;
  for (std::size_t i = 0; i < t.args.size();) {
    auto nat = std::find_if(kNative.begin(), kNative.end(),
                            [&](const NativeFlag& n) { return n.name == t.args[i]; });
    if (nat != kNative.end()) {
      i += nat->takes_value ? 2 : 1;
      continue;
    }
    REQUIRE(i + 1 < t.args.size());
    cfg.apply_override(t.args[i], t.args[i + 1]);
    i += 2;
  }
  return cfg;
}

}  // namespace

TEST_CASE("MAE-DFER fine-tuning flags become config keys, lists included", "[train][cli]") {
  const auto t =
      translate_mae_dfer_args({"--output_dir", "out", "--batch_size", "32", "--lg_region_size", "2",
                               "5", "10", "--opt_betas", "0.9", "0.999", "--dist_eval", "--use_cls",
                               "--nb_classes=11", "model.depth", "3"},
                              /*pretrain=*/false, kNative);
  CHECK(t.used);
  REQUIRE(t.args.size() >= 4);
  CHECK(t.args[0] == "--output_dir");
  CHECK(t.args[1] == "out");
  CHECK(std::find(t.args.begin(), t.args.end(), "--dist_eval") != t.args.end());
  const auto cfg = config_of(t);
  CHECK(cfg.get_int("data.batch_size") == 32);
  CHECK(cfg.get_int_list("model.lg_region_size") == std::vector<int64_t>{2, 5, 10});
  CHECK(cfg.get_float_list("optimization.opt_betas") == std::vector<double>{0.9, 0.999});
  CHECK_FALSE(cfg.get_bool("model.use_mean_pooling"));
  CHECK(cfg.get_int("data.num_classes") == 11);
  CHECK(cfg.get_string("system.log_txt") == "mae_dfer");
  // No config file: the script's own defaults for what it leaves out (argparse's 5 x 3 views).
  CHECK(cfg.get_int("data.test_num_segment") == 5);
  CHECK(cfg.get_int("data.test_num_crop") == 3);
  CHECK(cfg.get_int("data.short_side_size") == 224);
  // The user's trailing KEY VALUE pairs come last and win.
  CHECK(cfg.get_opt_int("model.depth") == 3);
  CHECK(t.args.back() == "3");
}

TEST_CASE("MAE-DFER flags with a config file apply no argparse defaults", "[train][cli]") {
  const auto t = translate_mae_dfer_args({"--config", "x.yaml", "--epochs", "7"}, false, kNative);
  const std::vector<std::string> want = {"--config", "x.yaml",          "system.log_txt",
                                         "mae_dfer", "training.epochs", "7"};
  CHECK(t.args == want);
}

TEST_CASE("MAE-DFER pre-training flags and their defaults", "[train][cli]") {
  const auto t =
      translate_mae_dfer_args({"--mask_type", "part_window", "--part_win_size", "2", "5", "10",
                               "--use_frame_diff_as_target", "--normlize_target", "False"},
                              /*pretrain=*/true, kNative);
  const auto cfg = config_of(t);
  CHECK(cfg.get_string("model.mask_type") == "part_window");
  CHECK(cfg.get_int_list("model.part_win_size") == std::vector<int64_t>{2, 5, 10});
  CHECK(cfg.get_bool("pretraining.use_frame_diff_as_target"));
  // argparse type=bool: bool("False") is True in Python; kept, with a note.
  CHECK(cfg.get_bool("model.normalize_target"));
  REQUIRE(t.notes.size() == 1);
  CHECK(t.notes[0].find("normlize_target") != std::string::npos);
  // run_mae_pretraining.py's defaults, not the yacs ones: drop path 0, 40 warm-up epochs.
  CHECK(cfg.get_float("model.drop_path") == 0.0);
  CHECK(cfg.get_int("optimization.warmup_epochs") == 40);
  CHECK(cfg.get_float("optimization.lr") == Approx(1.5e-4));
  // A fine-tuning-only flag is unknown to the pre-training parser.
  CHECK_THROWS_WITH(translate_mae_dfer_args({"--nb_classes", "7"}, true, kNative),
                    Catch::Contains("unknown flag --nb_classes"));
}

TEST_CASE("MAE-DFER flags: abbreviations, unknown and malformed flags", "[train][cli]") {
  // argparse accepts a unique prefix.
  const auto t = translate_mae_dfer_args({"--nb_cl", "7"}, false, kNative);
  CHECK(config_of(t).get_int("data.num_classes") == 7);
  CHECK_THROWS_WITH(translate_mae_dfer_args({"--mixup_", "1"}, false, kNative),
                    Catch::Contains("ambiguous flag --mixup_") && Catch::Contains("--mixup_prob") &&
                        Catch::Contains("--mixup_mode"));
  CHECK_THROWS_WITH(translate_mae_dfer_args({"--batchsize", "3"}, false, kNative),
                    Catch::Contains("unknown flag --batchsize") &&
                        Catch::Contains("nearest known flag is --batch_size"));
  CHECK_THROWS_WITH(translate_mae_dfer_args({"--lg_region_size", "--dist_eval"}, false, kNative),
                    Catch::Contains("--lg_region_size expects one or more numbers"));
  CHECK_THROWS_WITH(translate_mae_dfer_args({"--lr"}, false, kNative),
                    Catch::Contains("--lr expects a value"));
  CHECK_THROWS_WITH(translate_mae_dfer_args({"--dist_eval=1", "--resplit=1"}, false, kNative),
                    Catch::Contains("--resplit takes no value"));
  // Accepted, with no effect, and said.
  const auto crop = translate_mae_dfer_args({"--crop_pct", "0.9"}, false, kNative);
  REQUIRE(crop.notes.size() == 1);
  CHECK(crop.notes[0].find("no effect") != std::string::npos);
  // Without any MAE-DFER flag nothing changes.
  const std::vector<std::string> plain = {"--config", "c.yaml", "model.depth", "2"};
  CHECK(translate_mae_dfer_args(plain, false, kNative).args == plain);
  CHECK_FALSE(translate_mae_dfer_args(plain, false, kNative).used);
}

TEST_CASE("every MAE-DFER flag names a schema key", "[train][cli]") {
  for (bool pretrain : {false, true}) {
    for (const auto& f : mae_dfer_flags(pretrain)) {
      if (f.key.empty()) continue;
      INFO("--" << f.name << " -> " << f.key);
      dfer::Config cfg;
      CHECK_NOTHROW(cfg.value(f.key));
      if (!f.argparse_default.empty()) CHECK_NOTHROW(cfg.apply_override(f.key, f.argparse_default));
    }
  }
}

TEST_CASE("log.txt lines in the reference's format", "[train][log]") {
  const nlohmann::json m = {
      {"epoch", 3},           {"train_loss", 1.5},        {"train_lr", 1e-3},
      {"train_min_lr", 1e-4}, {"train_clips_per_s", 9.0}, {"val_acc1", 50.0},
      {"val_uar", 0.4},       {"n_parameters", 10},       {"epoch_time_s", 2.0}};
  const auto yacs = original_epoch_line(m, OriginalLogStyle::kYacs);
  CHECK(yacs.at("test_acc1") == 50.0);
  CHECK(yacs.at("test_uar") == 0.4);
  CHECK_FALSE(yacs.contains("val_acc1"));
  CHECK_FALSE(yacs.contains("train_clips_per_s"));
  CHECK_FALSE(yacs.contains("epoch_time_s"));
  const auto mae = original_epoch_line(m, OriginalLogStyle::kMaeDfer);
  CHECK(mae.at("val_acc1") == 50.0);
  // The reference's key order: train meters (lr first), validation, epoch, n_parameters.
  CHECK(python_json_dumps(mae) ==
        "{\"train_lr\": 0.001, \"train_min_lr\": 0.0001, \"train_loss\": 1.5, \"val_acc1\": 50.0, "
        "\"val_uar\": 0.4, \"epoch\": 3, \"n_parameters\": 10}");

  const nlohmann::json f = {{"final_acc1", 60.0},
                            {"final_uar", 0.5},
                            {"final_war", 0.6},
                            {"final_confusion_matrix", {{1, 0}, {0, 1}}},
                            {"best_epoch", 2}};
  const auto last = original_final_line(f, OriginalLogStyle::kMaeDfer, false);
  CHECK(last.at("Final Top-1 (last epoch)") == 60.0);
  CHECK(last.at("Final UAR") == 0.5);
  CHECK(original_final_line(f, OriginalLogStyle::kMaeDfer, true).contains("Final Top-1"));
  const auto y = original_final_line(f, OriginalLogStyle::kYacs, false);
  CHECK(y.at("final_war") == 0.6);
  CHECK(y.at("best_epoch") == 2);
  CHECK(y.at("angular_err").is_null());
}

TEST_CASE("a resume drops log.txt's repeated epochs and the final line", "[train][log]") {
  const auto dir = dfer::test::temp_dir("original_log");
  const auto path = (dir / "log.txt").string();
  for (int e = 0; e < 3; ++e)
    append_original_log(dir.string(), nlohmann::ordered_json{{"train_loss", 1.0}, {"epoch", e}});
  append_original_log(dir.string(), nlohmann::ordered_json{{"final_acc1", 1.0}});
  std::ofstream(path, std::ios::app) << "{\"train_lo";  // torn by a kill
  CHECK(prune_original_log(path, 2) == 3);
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) CHECK(nlohmann::json::parse(line).at("epoch") == n++);
  CHECK(n == 2);
}
