// Spatial and value transforms on clip tensors: PIL-style resize, fixed/centre/test crops, the
// reference's random resized crop (SPEC 3.3.6), horizontal flip, GroupMultiScaleCrop (SPEC 2.5),
// ImageNet normalisation and random erasing (SPEC 3.3.8). uint8 clips are [T, H, W, C]; float
// clips are [C, T, H, W]. Every random choice comes from the Rng passed in.
#pragma once

#include <torch/torch.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "dfer/data/random.h"

namespace dfer::data {

constexpr std::array<double, 3> kImagenetMean = {0.485, 0.456, 0.406};
constexpr std::array<double, 3> kImagenetStd = {0.229, 0.224, 0.225};

// A box in pixels; rows [top, top + height), columns [left, left + width).
struct CropBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

// A CPU torch generator seeded from one draw of `rng`, for tensor-valued noise.
at::Generator torch_generator(Rng& rng);

// --- uint8 [T, H, W, C] ---

// PIL Image.resize(BILINEAR) of every frame to height x width (antialiased when shrinking, like
// Pillow), rounded to uint8. Returns the input when the size already matches.
torch::Tensor resize_clip(const torch::Tensor& clip, int64_t height, int64_t width);

// The box as a view; dfer::Error if it does not lie inside the frame.
torch::Tensor crop_clip(const torch::Tensor& clip, const CropBox& box);

// video_transforms.CenterCrop: offsets int(round((W - w) / 2)), int(round((H - h) / 2)) with
// Python's half-to-even rounding; dfer::Error if the crop is larger than the frame.
torch::Tensor center_crop(const torch::Tensor& clip, int64_t height, int64_t width);

// The reference test-time spatial view: along the longer side (H when H >= W) take
// [start, start + short_side) with start = test_spatial_start(...).
torch::Tensor test_spatial_crop(const torch::Tensor& clip, int64_t short_side, int64_t num_crops,
                                int64_t crop);

// VoxCeleb2 pre-training window applied before anything else (SPEC 2.5): image size 192 ->
// rows 0..191, cols 16..207; image size <= 160 -> rows 0..159, cols 32..191; otherwise none.
std::optional<CropBox> voxceleb2_precrop(int64_t image_size);

struct MultiScaleCropOptions {
  int64_t output_size = 160;
  std::vector<double> scales = {1.0, 0.875, 0.75, 0.66};
  int64_t max_distort = 1;
  bool fix_crop = true;       // offsets from the fixed grid (else uniform)
  bool more_fix_crop = true;  // 13 grid positions instead of 5
};

// GroupMultiScaleCrop._sample_crop_size: candidate sizes int(min(H, W) * s) (snapped to
// output_size within 3 px), one (w, h) pair with scale indices differing by <= max_distort chosen
// uniformly, then one of the fixed offsets on a grid of step (size - crop) / 4.
CropBox sample_multi_scale_crop_box(int64_t height, int64_t width,
                                    const MultiScaleCropOptions& options, Rng& rng);

// Crop with a sampled box, then PIL bilinear resize to output_size x output_size.
torch::Tensor multi_scale_crop(const torch::Tensor& clip, const MultiScaleCropOptions& options,
                               Rng& rng);

// uint8 [T, H, W, C] -> float [C, T, H, W]: x / 255, then (x - mean) / std per channel.
torch::Tensor to_normalized_float(const torch::Tensor& clip);

// --- float [C, T, H, W] (any tensor whose last two dims are H, W for the crop helpers) ---

// _get_param_spatial_crop: up to `tries` draws of area fraction U(scale) and log-uniform aspect
// ratio; w = round(sqrt(A * r)), h = round(sqrt(A / r)) (half-to-even); the first box that fits
// gets a uniform position. Fallback: the centred box clipped to the ratio range.
CropBox sample_resized_crop_box(int64_t height, int64_t width, Rng& rng,
                                std::array<double, 2> scale = {0.08, 1.0},
                                std::array<double, 2> ratio = {0.75, 1.3333}, int tries = 10);

// Crops the last two dims to `box` and resizes to out_height x out_width with bilinear
// interpolation (align_corners = false, no antialias), as torch.nn.functional.interpolate.
torch::Tensor crop_and_resize(const torch::Tensor& clip, const CropBox& box, int64_t out_height,
                              int64_t out_width);

// sample_resized_crop_box + crop_and_resize: the same box for every frame.
torch::Tensor random_resized_crop(const torch::Tensor& clip, int64_t out_height, int64_t out_width,
                                  Rng& rng, std::array<double, 2> scale = {0.08, 1.0},
                                  std::array<double, 2> ratio = {0.75, 1.3333});

// Mirror of the last dimension (W), every frame.
torch::Tensor horizontal_flip(const torch::Tensor& clip);

// Flips the whole clip when u < prob (numpy uniform() < prob); `flipped` reports the draw.
torch::Tensor random_horizontal_flip(const torch::Tensor& clip, double prob, Rng& rng,
                                     bool* flipped = nullptr);

enum class EraseMode { kConst, kRand, kPixel };

// "const" | "rand" | "pixel"; dfer::UsageError otherwise.
EraseMode parse_erase_mode(const std::string& name);

struct RandomErasingOptions {
  double probability = 0.25;
  double min_area = 0.02;
  double max_area = 1.0 / 3.0;
  double min_aspect = 0.3;
  double max_aspect = 0.0;  // 0 = 1 / min_aspect
  EraseMode mode = EraseMode::kPixel;
  int64_t max_count = 1;   // boxes per clip: 1, or uniform in [1, max_count]
  int64_t num_splits = 1;  // the reference passes recount here too: frames [0, T / num_splits)
                           // are left untouched when num_splits > 1
  int tries = 100;         // attempts per box (the video "cube" variant)
};

// timm RandomErasing (cube mode) on a float [C, T, H, W] clip, in place, also returned: with
// probability `probability` (u <= p), `count` boxes; each box (area fraction U(min, max) / count,
// log-uniform aspect; h = round(sqrt(A * r)), w = round(sqrt(A / r)), accepted when h < H and
// w < W) covers the same pixels in every frame and is filled per frame with N(0, 1) noise
// (pixel), a per-channel N(0, 1) colour (rand) or zeros (const). The boxes drawn are appended to
// `boxes` if given.
torch::Tensor random_erasing(torch::Tensor clip, const RandomErasingOptions& options, Rng& rng,
                             std::vector<CropBox>* boxes = nullptr);

}  // namespace dfer::data
