// AdamW over parameter groups with the update of torch.optim.AdamW (PyTorch 1.13, single-tensor
// path; issued per tensor or as multi-tensor calls), fp32 state, and an exact save/restore of that
// state as named tensors + JSON counters.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "dfer/io/safetensors.h"
#include "dfer/train/param_groups.h"

namespace dfer::train {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  // The reference runs under DDP, which hands unused parameters (the last block's S3 with region
  // pooling, SPEC 8.6) a zero gradient, so AdamW still decays and moves them. true reproduces
  // that; false skips parameters without a gradient (plain single-process PyTorch).
  bool missing_grad_as_zero = true;
  // How the update is issued. The arithmetic is the same operation sequence either way (results
  // equal bitwise on CPU); the multi-tensor (_foreach_) form issues each operation once per group
  // instead of once per tensor, which saves thousands of kernel launches per step on a GPU but
  // holds one extra copy of the group's parameters (the denominators) at a time.
  enum class Issue { kAuto, kPerTensor, kForeach };
  Issue issue = Issue::kAuto;  // kAuto: foreach for CUDA parameters, per tensor on the CPU
};

class AdamW {
 public:
  AdamW(std::vector<ParamGroup> groups, AdamWOptions options);

  // One update: every group gets lr * lr_scale; groups with weight_decay > 0 use `weight_decay`
  // (the scheduled value), as the reference's per-iteration loop sets them.
  void step(double lr, double weight_decay);
  // Gradients to undefined (set_to_none).
  void zero_grad();

  const std::vector<ParamGroup>& groups() const { return groups_; }
  // Sum of squared gradient norms, sqrt (total 2-norm); 0 when no gradient is present.
  double grad_norm() const;
  // Scales all gradients by `factor` (clip or loss-scale removal).
  void scale_grads(double factor);
  // True when every present gradient is finite.
  bool grads_finite() const;

  // State as tensors "opt.<param>.exp_avg", "opt.<param>.exp_avg_sq" (CPU copies) and JSON
  // {"steps": {"<param>": n}, "betas": [..], "eps": ..}.
  io::NamedTensors state_tensors() const;
  nlohmann::json state_json() const;
  // Restores state saved by the two functions above; throws dfer::Error naming the parameter
  // when a tensor is missing or its shape differs.
  void load_state(const std::map<std::string, torch::Tensor>& tensors, const nlohmann::json& meta);

 private:
  struct State {
    torch::Tensor exp_avg, exp_avg_sq;
    int64_t step = 0;
  };
  // Parameters of one group that share a step count, for the multi-tensor update.
  struct Bucket {
    std::vector<torch::Tensor> params, grads;
    std::vector<State*> states;
  };
  // p's gradient, a zero one when it has none and missing_grad_as_zero, else undefined (skip).
  torch::Tensor gradient_of(const torch::Tensor& p) const;
  // The state of `name`, created at zero on first use, with its step count advanced.
  State& advance_state(const std::string& name, const torch::Tensor& p);
  // The update for a bucket (lr and weight decay of its group, state already advanced).
  void update_foreach(Bucket& bucket, double lr, double wd);
  std::vector<ParamGroup> groups_;
  AdamWOptions options_;
  std::map<std::string, State> state_;
};

}  // namespace dfer::train
