// The tiny synthetic runs the end-to-end tests share: one small synthetic dataset (42 clips of
// 8-12 frames at 40 px) and the commands of a 2-layer LGI-Former pre-training and fine-tuning on
// it (and of a 2-layer VideoMamba pre-training), each a few seconds on one CPU thread.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace dfer::test {

struct TinyData {
  std::filesystem::path root;           // the test's temp folder: synth/ and the YAML files
  std::filesystem::path pretrain_yaml;  // 2 epochs, a checkpoint per epoch, frame-difference target
  std::filesystem::path finetune_yaml;
};

// Made once per test process (dfer-prep synth), then shared.
const TinyData& tiny_data();

// dfer-pretrain (encoder depth 2, decoder depth 1) writing into `out`.
std::vector<std::string> pretrain_cmd(const std::filesystem::path& out);
// dfer-pretrain of a VideoMamba (pretrain_videomamba_base_dim512_patch16_160 at width 32, encoder
// depth 2, pixel decoder width 16 and depth 1) writing into `out`: the same data, masks and
// targets as pretrain_cmd. Its checkpoint-1.safetensors fine-tunes a videomamba_base_dim512_*
// of width 32 and depth 2 (model.embed_dim 32, model.depth 2).
std::vector<std::string> mamba_pretrain_cmd(const std::filesystem::path& out);
// dfer-finetune (depth 2, 7 classes, drop path 0.1) for `epochs` epochs, a checkpoint each.
std::vector<std::string> finetune_cmd(const std::filesystem::path& out, int epochs);

}  // namespace dfer::test
