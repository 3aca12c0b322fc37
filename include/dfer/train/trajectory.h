// Training-trajectory parity: replays a reference fine-tuning run (a fixture folder with
// "kind": "finetune_trajectory") step by step in float64 through the trainer's own pieces (param
// groups with layer decay, schedules, AdamW, label-smoothing loss) and compares the parameter
// groups, every step's loss and lr, and each tensor's total weight change with the reference's.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace dfer::train {

struct TrajectoryOptions {
  double loss_rtol = 1e-10;   // per step, relative
  double lr_atol = 1e-12;     // per step, absolute
  double change_rtol = 1e-6;  // per tensor: max|ours - ref| / max|ref| of (final - initial)
  // Parameters without a gradient: the trainer hands them zeros, as the reference's DDP does
  // (SPEC: the last block's unused attention with region pooling), so AdamW still decays them. A
  // fixture recorded in one plain process skips them instead; false reproduces that.
  bool missing_grad_as_zero = true;
  // Test-only: replaces the fixture's layer decay, to prove that a wrong value fails.
  std::optional<double> layer_decay_override;
};

struct TrajectoryCheck {
  std::string what;  // "loss[3]", "lr[0]", "group 2", "blocks.0.mlp.fc1.weight", ...
  double error = 0;  // the measure named by the tolerance that applies
  double tolerance = 0;
  bool passed = false;
  std::string note;
};

struct TrajectoryResult {
  std::string fixture;
  std::string description;
  std::vector<std::string> deviations;  // switches in effect that differ from the trainer
  std::vector<TrajectoryCheck> checks;
  bool passed() const;
  std::vector<std::string> failed() const;  // `what` of every failing check
  std::string to_string() const;
};

// True when `fixture_dir`/config.json says "kind": "finetune_trajectory".
bool is_trajectory_fixture(const std::string& fixture_dir);

// Throws dfer::Error when the folder cannot be read or describes an unsupported recipe.
TrajectoryResult run_trajectory(const std::string& fixture_dir,
                                const TrajectoryOptions& options = {});

}  // namespace dfer::train
