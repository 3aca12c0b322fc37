// MAE reconstruction targets (per-patch normalised appearance + frame difference) and the
// pre-training loss, as engine_for_pretraining.train_one_epoch computes them (SPEC §2.4, §8.19).
#pragma once

#include <torch/torch.h>

#include <array>
#include <optional>

namespace dfer::models {

struct MaeTargetOptions {
  int64_t patch_size = 16;
  int64_t tubelet_size = 2;                  // p0 of the patch layout (upstream hard-codes 2)
  bool normalize_target = true;              // upstream `normlize_target`
  bool use_frame_diff = true;                // `use_frame_diff_as_target`
  int64_t frame_diff_group_size = 2;         // frames per group: the first kept, the rest minus it
  std::optional<double> target_diff_weight;  // unset: plain MSE over the whole target
  std::array<double, 3> mean{0.485, 0.456, 0.406};
  std::array<double, 3> std{0.229, 0.224, 0.225};
};

struct MaeTargets {
  torch::Tensor appearance;  // target_appearance_norm_all (B, N, P): before the frame difference
  torch::Tensor all;         // target_all (B, N, P): the final target for every token
  torch::Tensor labels;      // target_all of the masked tokens (B, N_masked, P), token order
};

// video: ImageNet-normalised (B, C, T, H, W); mask (B, N) bool, true = masked. Computed without
// gradient, in float32 (whatever the input dtype). P = tubelet * patch^2 * C with the layout
// (p0, p1, p2, c), c fastest.
MaeTargets compute_mae_targets(const torch::Tensor& video, const torch::Tensor& mask,
                               const MaeTargetOptions& opt);

struct MaeLoss {
  torch::Tensor loss;       // what is optimised
  torch::Tensor loss_org;   // MSE over the first half of the last dim (tubelet frame 0)
  torch::Tensor loss_diff;  // MSE over the second half (frame 1: the difference target)
};

// loss = MSE(outputs, labels), or (1-w)*loss_org + w*loss_diff when target_diff_weight is set
// (upstream only honours the weight together with the frame-difference target). The losses are
// computed in float32 whatever the dtype of `outputs`.
MaeLoss mae_loss(const torch::Tensor& outputs, const torch::Tensor& labels,
                 const MaeTargetOptions& opt);

}  // namespace dfer::models
