// Config -> datasets: a pack folder as data.data_path gives the same rows and the same augmented
// clips as the frame folders it was packed from; missing splits and bad labels are named.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include <filesystem>

#include "dfer/config/cli.h"
#include "dfer/data/shard.h"
#include "dfer/data/synth.h"
#include "dfer/train/data_setup.h"
#include "dfer/train/loader_bench.h"
#include "dfer/train/model_factory.h"
#include "dfer/util/error.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;

namespace {
dfer::Config demo_config(const std::string& data_path) {
  dfer::CliArgs a;
  a.config_file = "configs/synth_finetune.yaml";
  a.overrides = {{"data.data_path", data_path},
                 {"data.short_side_size", "48"},
                 {"model.input_size", "48"},
                 {"model.lg_region_size", "[2, 3, 3]"},
                 {"data.num_workers", "0"}};
  return dfer::load_config(a);
}

// A 14-clip synthetic dataset of `size` px frames under root/synth.
void write_tiny_synth(const fs::path& root, int size) {
  dfer::data::SynthOptions so;
  so.videos = 14;
  so.size = size;
  so.min_frames = 10;
  so.max_frames = 12;
  so.threads = 1;
  dfer::data::write_synth_dataset((root / "synth").string(), so);
}
}  // namespace

TEST_CASE("a pack folder as data.data_path reads the packed clips", "[train][data_setup]") {
  const fs::path root = dfer::test::temp_dir("data-setup");
  write_tiny_synth(root, 48);
  dfer::data::PackOptions po;
  po.height = po.width = 48;
  po.threads = 1;
  std::vector<std::string> lists;
  for (const char* n : {"train.csv", "val.csv", "test.csv"})
    lists.push_back((root / "synth" / n).string());
  dfer::data::pack_clips(lists, (root / "pack").string(), po);

  auto folder_cfg = demo_config((root / "synth").string());
  auto pack_cfg = demo_config((root / "pack").string());
  const auto spec = dfer::train::model_spec_from_config(folder_cfg);
  for (auto mode : {dfer::data::ClipMode::kTrain, dfer::data::ClipMode::kTest}) {
    auto a = dfer::train::make_clip_dataset(folder_cfg, mode, spec);
    auto b = dfer::train::make_clip_dataset(pack_cfg, mode, spec);
    REQUIRE(a->size() == b->size());
    REQUIRE(a->rows().size() == b->rows().size());
    for (size_t i = 0; i < a->rows().size(); ++i) CHECK(a->rows()[i].label == b->rows()[i].label);
    CHECK_THAT(b->describe(0), Catch::Contains("index.json"));
    for (int64_t i : {int64_t{0}, a->size() - 1}) {
      dfer::data::Rng ra(7 + static_cast<uint64_t>(i)), rb(7 + static_cast<uint64_t>(i));
      auto sa = a->get(i, ra);
      auto sb = b->get(i, rb);
      CHECK(sa.label.item<int64_t>() == sb.label.item<int64_t>());
      CHECK(torch::equal(sa.clip, sb.clip));
    }
  }
  // No pretrain/train-only list is missing here, but a label beyond num_classes is named.
  auto small = pack_cfg;
  small.set_int("data.num_classes", 2);
  try {
    dfer::train::make_clip_dataset(small, dfer::data::ClipMode::kTrain, spec);
    FAIL("expected an out-of-range label error");
  } catch (const dfer::UsageError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("data.num_classes"));
    CHECK_THAT(std::string(e.what()), Catch::Contains("[train]"));
  }
}

TEST_CASE("the loader benchmark's decode-only chain delivers sampled frames untransformed",
          "[train][loader_bench]") {
  const fs::path root = dfer::test::temp_dir("loader-bench");
  write_tiny_synth(root, 40);
  auto cfg = demo_config((root / "synth").string());
  cfg.apply_override("data.batch_size", "2");
  dfer::train::LoaderBenchOptions o;
  o.sources = {{"jpeg", (root / "synth").string()}};
  o.workers = {0, 1};
  o.batches = 1;
  o.runs = 1;
  o.decode_only = true;
  const auto rows = dfer::train::bench_loader(cfg, o);
  REQUIRE(rows.size() == 2);
  for (const auto& r : rows) {
    CHECK(r.chain == "decode");
    CHECK(r.batch == 2);
    CHECK(r.clip_shape == "4x48x48x3");  // num_frames x short_side_size^2 x RGB, uint8 as stored
    CHECK(r.clips_per_s > 0);
  }
  o.decode_only = false;
  o.eval_chain = true;
  o.workers = {0};
  const auto eval = dfer::train::bench_loader(cfg, o);
  REQUIRE(eval.size() == 1);
  CHECK(eval[0].chain == "eval");
  CHECK(eval[0].clip_shape == "3x4x48x48");  // normalised float [C, T, H, W]
}
