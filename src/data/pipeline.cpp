// Transform chains of the reference datasets (see pipeline.h).
#include "dfer/data/pipeline.h"

#include <algorithm>

namespace dfer::data {

torch::Tensor train_transform(const torch::Tensor& frames, const TrainAugmentOptions& options,
                              Rng& rng, bool* flipped) {
  torch::Tensor clip = resize_clip(frames, options.short_side_size, options.short_side_size);
  if (options.rand_augment) clip = rand_augment(clip, *options.rand_augment, rng);
  torch::Tensor x = to_normalized_float(clip);
  x = random_resized_crop(x, options.input_size, options.input_size, rng, options.crop_scale,
                          options.crop_ratio);
  x = random_horizontal_flip(x, options.flip_prob, rng, flipped);
  if (options.erasing) x = random_erasing(x.contiguous(), *options.erasing, rng);
  return x.contiguous();
}

torch::Tensor eval_transform(const torch::Tensor& frames, int64_t short_side_size,
                             int64_t input_size) {
  const torch::Tensor clip = resize_clip(frames, short_side_size, short_side_size);
  return to_normalized_float(center_crop(clip, input_size, input_size));
}

torch::Tensor resize_eval_transform(const torch::Tensor& frames, int64_t short_side_size,
                                    int64_t input_size) {
  const torch::Tensor clip = resize_clip(frames, short_side_size, short_side_size);
  return to_normalized_float(resize_clip(clip, input_size, input_size));
}

torch::Tensor test_transform(const torch::Tensor& frames, int64_t short_side_size,
                             int64_t num_crops, int64_t crop) {
  const torch::Tensor clip = resize_clip(frames, short_side_size, short_side_size);
  return to_normalized_float(test_spatial_crop(clip, short_side_size, num_crops, crop));
}

torch::Tensor pretrain_transform(const torch::Tensor& frames, const PretrainAugmentOptions& options,
                                 Rng& rng) {
  torch::Tensor clip = frames;
  if (options.precrop) {
    // numpy slicing in the reference: the window is clipped to the frame, never padded.
    const CropBox& b = *options.precrop;
    const int64_t top = std::min(b.top, clip.size(1)), left = std::min(b.left, clip.size(2));
    const int64_t bottom = std::min(b.top + b.height, clip.size(1));
    const int64_t right = std::min(b.left + b.width, clip.size(2));
    clip = crop_clip(clip, {top, left, bottom - top, right - left});
  }
  if (options.multi_scale_crop) clip = multi_scale_crop(clip.contiguous(), options.crop, rng);
  return to_normalized_float(clip);
}

}  // namespace dfer::data
