// The shipped configs: every file in configs/ loads, and each real-data recipe trains at the
// reference's total batch on one device (batch_size x update_freq), so its scaled peak learning
// rate (lr x total / 256, SPEC §2.6 and §3.1) equals the reference's.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>

#include "dfer/config/config.h"

namespace fs = std::filesystem;

namespace {

dfer::Config load(const std::string& file) {
  dfer::Config cfg;
  cfg.load_yaml_file(file);
  return cfg;
}

}  // namespace

TEST_CASE("every shipped config loads", "[config][recipes]") {
  int n = 0;
  for (const auto& e : fs::directory_iterator("configs")) {
    if (e.path().extension() != ".yaml") continue;
    INFO(e.path().string());
    CHECK_NOTHROW(load(e.path().string()));
    ++n;
  }
  CHECK(n >= 18);
}

TEST_CASE("the recipes reproduce the reference's total batch and peak lr", "[config][recipes]") {
  struct Recipe {
    int64_t total_batch;
    double peak_lr, min_lr;
    int64_t classes;
  };
  // Reference: DFEW and MAFW 3 GPUs x 32, FERV39k 3 x 40 (SPEC §3.1); pre-training 160 (§2.6);
  // the fork's gaze and combine runs 4 processes x 32 and x 16 (SPEC-later §g).
  std::map<std::string, Recipe> recipes = {
      {"configs/ferv39k_finetune.yaml", {120, 4.6875e-4, 4.6875e-7, 7}},
      {"configs/voxceleb2_pretrain.yaml", {160, 1.875e-4, 6.25e-6, -1}},
      {"configs/gaze360_finetune.yaml", {128, 2.5e-3, 5e-7, 2}},
      {"configs/dfew_combine.yaml", {64, 2.5e-4, 2.5e-7, 7}},
      // VideoMamba: the LGI-Former recipes' schedules on the later reference's Mamba models.
      {"configs/voxceleb2_pretrain_mamba.yaml", {160, 1.875e-4, 6.25e-6, -1}},
      {"configs/dfew_mamba_finetune.yaml", {96, 3.75e-4, 3.75e-7, 7}},
  };
  recipes["configs/dfew_finetune.yaml"] = {96, 3.75e-4, 3.75e-7, 7};
  for (int k = 2; k <= 5; ++k)
    recipes["configs/dfew_finetune_split0" + std::to_string(k) + ".yaml"] = {96, 3.75e-4, 3.75e-7,
                                                                             7};
  for (int k = 1; k <= 5; ++k)
    recipes["configs/mafw_finetune_split0" + std::to_string(k) + ".yaml"] = {96, 3.75e-4, 3.75e-7,
                                                                             11};
  for (const auto& [file, r] : recipes) {
    INFO(file);
    const auto cfg = load(file);
    const int64_t total = cfg.get_int("data.batch_size") * cfg.get_int("training.update_freq");
    CHECK(total == r.total_batch);
    CHECK(cfg.get_float("optimization.lr") * static_cast<double>(total) / 256.0 ==
          Approx(r.peak_lr).epsilon(1e-12));
    CHECK(cfg.get_float("optimization.min_lr") * static_cast<double>(total) / 256.0 ==
          Approx(r.min_lr).epsilon(1e-12));
    if (r.classes > 0) CHECK(cfg.get_int("data.num_classes") == r.classes);
  }
  // The folds differ in their data only.
  for (int k = 2; k <= 5; ++k) {
    const auto a = load("configs/dfew_finetune.yaml");
    const auto b = load("configs/dfew_finetune_split0" + std::to_string(k) + ".yaml");
    CHECK(b.get_string("data.data_path") == "saved/data/dfew/org/split0" + std::to_string(k));
    CHECK(a.get_float("optimization.lr") == b.get_float("optimization.lr"));
  }
  CHECK(load("configs/ferv39k_finetune.yaml").get_int("data.sampling_rate") == 1);
  CHECK(load("configs/mafw_finetune_split03.yaml").get_string("data.data_path") ==
        "saved/data/mafw/single/split03");
}
