// The per-clip transform chains of the reference: training (SPEC 3.3 steps 3-8), validation
// (3.4), test views (3.5) and pre-training (2.5). Input: decoded uint8 frames [T, H, W, C];
// output: a normalised float clip [C, T, H, W].
#pragma once

#include <torch/torch.h>

#include <array>
#include <optional>

#include "dfer/data/rand_augment.h"
#include "dfer/data/random.h"
#include "dfer/data/transforms.h"

namespace dfer::data {

struct TrainAugmentOptions {
  int64_t input_size = 160;       // crop output side (model input)
  int64_t short_side_size = 160;  // frames are first resized to this square (SPEC 8.16)
  std::optional<RandAugmentSpec> rand_augment;     // augmentation.auto_augment; none when unset
  std::array<double, 2> crop_scale = {0.08, 1.0};  // SPEC 8.13: 0.08, not the commented 0.8
  std::array<double, 2> crop_ratio = {0.75, 1.3333};
  double flip_prob = 0.5;                       // 0 for regression / combine data (SPEC-later b)
  std::optional<RandomErasingOptions> erasing;  // set when random_erase_prob > 0
};

// resize to short x short -> RandAugment (same ops for all frames) -> /255, normalise, CTHW ->
// random resized crop to input_size -> horizontal flip -> random erasing. `flipped` (optional)
// tells whether the clip was mirrored (gaze labels must then negate yaw).
torch::Tensor train_transform(const torch::Tensor& frames, const TrainAugmentOptions& options,
                              Rng& rng, bool* flipped = nullptr);

// Validation: resize to short x short -> centre crop input_size -> normalise.
torch::Tensor eval_transform(const torch::Tensor& frames, int64_t short_side_size,
                             int64_t input_size);

// Validation of the regression / combine datasets (SPEC-later b): resize to short x short, then
// resize (not crop) to input_size x input_size -> normalise, so the whole face stays in view.
torch::Tensor resize_eval_transform(const torch::Tensor& frames, int64_t short_side_size,
                                    int64_t input_size);

// Test view: resize to short x short -> spatial view `crop` of `num_crops` -> normalise. The
// frames are the view's temporal slice already (test_view_indices).
torch::Tensor test_transform(const torch::Tensor& frames, int64_t short_side_size,
                             int64_t num_crops, int64_t crop);

struct PretrainAugmentOptions {
  std::optional<CropBox> precrop;  // voxceleb2_precrop(input size) for VoxCeleb2 lists
  bool multi_scale_crop = true;    // false = upstream --no_augmentation (frames kept as they are)
  MultiScaleCropOptions crop;      // output_size = model input size
};

// Pre-training: optional fixed window -> GroupMultiScaleCrop -> normalise. No flip, no colour.
torch::Tensor pretrain_transform(const torch::Tensor& frames, const PretrainAugmentOptions& options,
                                 Rng& rng);

}  // namespace dfer::data
