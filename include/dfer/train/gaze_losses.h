// Gaze regression: the two heads of the reference (plain MSE on (pitch, yaw) and L2CS binned
// classification + regression), decoding a model output into (pitch, yaw), the angular-error
// metric, and the combined emotion + gaze loss. Angles in radians; tensors [..., 2] = (pitch, yaw).
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace dfer::train {

struct L2csOptions {
  int64_t num_bins = 90;
  double bin_width_deg = 2.0;
  double alpha_reg = 1.0;
  // The bins cover [-range, range) degrees, range = num_bins * bin_width / 2 (90 by default).
  double range_deg() const { return static_cast<double>(num_bins) * bin_width_deg / 2.0; }
};

// Bin of each angle: clamp(floor((deg + range) / width), 0, num_bins - 1), int64.
torch::Tensor l2cs_bins(const torch::Tensor& angle_rad, const L2csOptions& options);

// Softmax expectation of the logits [..., num_bins] at the bin centres, in radians:
// sum_i p_i (i + 0.5) width - range. The reference uses the bins' left edges (no + 0.5), which
// biases every estimate by half a bin (-1 degree by default, SPEC 8.26); centres remove it.
torch::Tensor l2cs_expectation(const torch::Tensor& logits, const L2csOptions& options);

// CE(pitch bins) + CE(yaw bins) + alpha_reg (MSE(pitch) + MSE(yaw)), means over all positions;
// logits [..., 2 * num_bins] (pitch bins, then yaw bins: the head order pitch, yaw).
torch::Tensor l2cs_loss(const torch::Tensor& logits, const torch::Tensor& target,
                        const L2csOptions& options);

// The model output [..., 2] (MSE head) or [..., 2 * num_bins] (L2CS) -> (pitch, yaw) [..., 2].
torch::Tensor decode_gaze(const torch::Tensor& output, bool l2cs, const L2csOptions& options);

// Mean squared error over every element (radians^2), in float32 at least.
torch::Tensor gaze_mse(const torch::Tensor& prediction, const torch::Tensor& target);

// Angle between predicted and true gaze directions in degrees, per position ([...]): unit vectors
// (cos p sin y, sin p, -cos p cos y), acos of the dot product clamped to [-1, 1] (SPEC 5.4).
// Computed in float64.
torch::Tensor angular_error_deg(const torch::Tensor& prediction, const torch::Tensor& target);

// alpha * CE(class logits [..., C], labels [...]) + MSE(gaze [..., 2], target [..., 2]): the
// later reference's combine loss (alpha 0 = gaze only), means over all frames.
torch::Tensor combine_loss(const torch::Tensor& class_logits, const torch::Tensor& labels,
                           const torch::Tensor& gaze, const torch::Tensor& target, double alpha);

}  // namespace dfer::train
