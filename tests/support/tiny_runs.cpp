// The tiny pre-train / fine-tune runs of the end-to-end tests (see tiny_runs.h).
#include "support/tiny_runs.h"

#include <catch2/catch.hpp>

#include <fstream>

#include "support/fixtures.h"
#include "support/programs.h"

namespace fs = std::filesystem;

namespace dfer::test {

namespace {

// The tiny geometry shared by both models: 32 px, 4 frames -> 2 x 2 x 2 tokens, two LGI regions
// of 2 x 1 x 2, part windows of 1 x 2 tokens, 50 % masking.
const char* const kModel = R"(
model:
  input_size: 32
  patch_size: 16
  tubelet_size: 2
  embed_dim: 32
  num_heads: 2
  attn_type: local_global
  lg_region_size: [2, 1, 2]
data:
  dataset_name: synth
  num_frames: 4
  sampling_rate: 2
  short_side_size: 32
  batch_size: 8
  num_workers: 2
optimization:
  lr: 0.002
  warmup_epochs: 1
system:
  device: cpu
  num_threads: 1
  seed: 3
)";

}  // namespace

const TinyData& tiny_data() {
  static TinyData d = [] {
    TinyData x;
    x.root = temp_dir("e2e_train");
    const auto synth = x.root / "synth";
    const int code = run({bin("dfer-prep"), "synth", "--out", synth.string(), "--videos", "42",
                          "--size", "40", "--min-frames", "8", "--max-frames", "12"},
                         (x.root / "prep.log").string());
    REQUIRE(code == 0);
    x.pretrain_yaml = x.root / "pretrain.yaml";
    std::ofstream(x.pretrain_yaml) << kModel << "\n"
                                   << "pretraining: {use_frame_diff_as_target: true}\n"
                                   << "training: {epochs: 2, save_ckpt_freq: 1}\n";
    // Sections may appear once per file: put the model-kind keys into override lists instead.
    x.finetune_yaml = x.root / "finetune.yaml";
    std::ofstream(x.finetune_yaml) << kModel;
    return x;
  }();
  return d;
}

std::vector<std::string> pretrain_cmd(const fs::path& out) {
  const auto& d = tiny_data();
  return {bin("dfer-pretrain"),
          "--config",
          d.pretrain_yaml.string(),
          "--output_dir",
          out.string(),
          "model.name",
          "pretrain_videomae_base_dim512_no_depth_patch16_160",
          "model.encoder_depth",
          "2",
          "model.decoder_depth",
          "1",
          "model.decoder_embed_dim",
          "16",
          "model.decoder_num_heads",
          "2",
          "model.mask_ratio",
          "0.5",
          "model.part_win_size",
          "[2,1,2]",
          "model.drop_path",
          "0.0",
          "data.data_path",
          (d.root / "synth" / "pretrain.csv").string()};
}

std::vector<std::string> mamba_pretrain_cmd(const fs::path& out) {
  const auto& d = tiny_data();
  return {bin("dfer-pretrain"), "--config", d.pretrain_yaml.string(), "--output_dir", out.string(),
          "model.name", "pretrain_videomamba_base_dim512_patch16_160", "model.embed_dim", "32",
          // The Mamba encoder's depth (model.depth, as in fine-tuning); the registry's 32 layers
          // would take minutes here.
          "model.depth", "2", "model.decoder_depth", "1", "model.decoder_embed_dim", "16",
          "model.mask_ratio", "0.5", "model.part_win_size", "[2,1,2]", "model.drop_path", "0.0",
          "data.data_path", (d.root / "synth" / "pretrain.csv").string()};
}

std::vector<std::string> finetune_cmd(const fs::path& out, int epochs) {
  const auto& d = tiny_data();
  return {bin("dfer-finetune"),
          "--config",
          d.finetune_yaml.string(),
          "--output_dir",
          out.string(),
          "model.name",
          "vit_base_dim512_no_depth_patch16_160",
          "model.depth",
          "2",
          "model.drop_path",
          "0.1",
          "model.lg_classify_token_type",
          "region",
          "data.data_path",
          (d.root / "synth").string(),
          "data.num_classes",
          "7",
          "training.epochs",
          std::to_string(epochs),
          "training.save_ckpt_freq",
          "1"};
}

}  // namespace dfer::test
