// Training checkpoints in an output folder: checkpoint-<tag>.safetensors (model weights, upstream
// names) + checkpoint-<tag>.state.safetensors (optimizer moments as `opt.<param>.exp_avg` tensors,
// RNG state, and a JSON record of counters, scheduler position, loader position and the effective
// config), a `checkpoint-last` pointer, the resume scan that skips corrupt checkpoints, and
// keep-last-K pruning. Every file is written atomically (temp + fsync + rename).
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dfer/io/safetensors.h"

namespace dfer::train {

inline constexpr const char* kStateMetadataKey = "dfer.train_state";
inline constexpr const char* kLastPointerName = "checkpoint-last";

// Paths of checkpoint `tag` ("7", "3-120", "interrupted") in `dir`.
std::string checkpoint_weights_path(const std::string& dir, const std::string& tag);
std::string checkpoint_state_path(const std::string& dir, const std::string& tag);

// Writes the weights file, then the state file (whose JSON records the weights file's name, size
// and XXH3-128 content hash, so a pair from different saves is detected), then the pointer.
// `state` must hold "global_step"; the saver adds "tag", "weights_file", "weights_bytes",
// "weights_xxh3".
void save_checkpoint(const std::string& dir, const std::string& tag,
                     const io::NamedTensors& weights, const io::NamedTensors& state_tensors,
                     nlohmann::json state);

struct LoadedCheckpoint {
  std::string tag;
  io::NamedTensors weights;
  std::map<std::string, torch::Tensor> state_tensors;
  nlohmann::json state;
};

// Loads and cross-checks one checkpoint; throws dfer::Error naming the file on any problem.
LoadedCheckpoint load_checkpoint(const std::string& dir, const std::string& tag);

// Tags of the checkpoints in `dir` that have a state file, newest first (by the recorded
// global_step, then file time). Unreadable headers sort last.
std::vector<std::string> list_checkpoints(const std::string& dir);

// The newest checkpoint that loads completely (by recorded step); each one that fails is reported
// with a warning and listed in `rejected` with its reason.
struct ResumeScan {
  std::optional<LoadedCheckpoint> checkpoint;                 // nullopt: none is usable
  std::vector<std::pair<std::string, std::string>> rejected;  // (tag, why), newest first
};
ResumeScan scan_resume_checkpoints(const std::string& dir);
std::optional<LoadedCheckpoint> find_resume_checkpoint(const std::string& dir);

// Removes the temp files io::write_file_atomic left in `dir` when its process was killed mid-write
// (".<name>.tmp-<pid>-..." whose pid no longer runs). Returns how many were removed.
int64_t remove_stale_temp_files(const std::string& dir);

// A checkpoint given by the user (training.resume): a weights or state file path, or a folder.
LoadedCheckpoint load_checkpoint_path(const std::string& path);

// The weights an evaluation (training.eval_only) loads from training.resume: a training
// checkpoint (folder, or either file of a pair) or a weights-only file
// (checkpoint-best.safetensors, an official .pth). Errors name the path.
io::NamedTensors load_evaluation_weights(const std::string& path);

// checkpoint-best.safetensors in `dir`: the best validation epoch's weights, which the engines keep
// as the reference does.
std::string best_weights_path(const std::string& dir);
// Those weights, for training.eval_best (dfer::UsageError naming the file when the run kept none).
io::NamedTensors load_best_weights(const std::string& dir);

// Removes numbered epoch checkpoints ("<digits>" tags) beyond the `keep` newest, and every
// non-epoch checkpoint older than the newest epoch one. keep <= 0 keeps all numbered ones.
void prune_checkpoints(const std::string& dir, int64_t keep);

// Random state of the default CPU generator as a uint8 tensor, and its restore.
torch::Tensor cpu_rng_state();
void set_cpu_rng_state(const torch::Tensor& state);

}  // namespace dfer::train
