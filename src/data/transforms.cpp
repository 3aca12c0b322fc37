// Crops, resizes, flips, multi-scale crop and normalisation of clip tensors (see transforms.h).
#include "dfer/data/transforms.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "dfer/data/image_ops.h"
#include "dfer/data/sampling.h"
#include "dfer/util/error.h"

namespace dfer::data {

namespace {

namespace F = torch::nn::functional;

int64_t round_half_even(double v) {
  return static_cast<int64_t>(std::nearbyint(v));
}

int64_t floor_div(int64_t a, int64_t b) {  // Python's //
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::string box_text(const CropBox& b) {
  return "box (top " + std::to_string(b.top) + ", left " + std::to_string(b.left) + ", " +
         std::to_string(b.height) + "x" + std::to_string(b.width) + ")";
}

// PIL Image.crop: parts of the box outside the image read as zeros.
torch::Tensor pil_crop(const torch::Tensor& clip, const CropBox& box) {
  const int64_t H = clip.size(1), W = clip.size(2);
  if (box.top >= 0 && box.left >= 0 && box.top + box.height <= H && box.left + box.width <= W) {
    return crop_clip(clip, box);
  }
  const int64_t pad_top = std::max<int64_t>(0, -box.top);
  const int64_t pad_left = std::max<int64_t>(0, -box.left);
  const int64_t pad_bottom = std::max<int64_t>(0, box.top + box.height - H);
  const int64_t pad_right = std::max<int64_t>(0, box.left + box.width - W);
  const torch::Tensor padded =
      torch::constant_pad_nd(clip, {0, 0, pad_left, pad_right, pad_top, pad_bottom}, 0);
  return crop_clip(padded, {box.top + pad_top, box.left + pad_left, box.height, box.width});
}

}  // namespace

at::Generator torch_generator(Rng& rng) {
  return at::detail::createCPUGenerator(rng());
}

torch::Tensor resize_clip(const torch::Tensor& clip, int64_t height, int64_t width) {
  check_uint8_clip(clip, "resize_clip");
  if (height < 1 || width < 1) {
    throw Error("resize_clip: target size " + std::to_string(height) + "x" + std::to_string(width) +
                " is empty");
  }
  if (clip.size(1) == height && clip.size(2) == width) return clip;
  // Pillow's resampling is a separable triangle filter widened by the scale when shrinking;
  // torch's antialiased bilinear implements the same filter.
  const torch::Tensor planes = clip.permute({0, 3, 1, 2}).to(torch::kFloat32);
  const torch::Tensor resized =
      F::interpolate(planes, F::InterpolateFuncOptions()
                                 .size(std::vector<int64_t>{height, width})
                                 .mode(torch::kBilinear)
                                 .align_corners(false)
                                 .antialias(true));
  return resized.round().clamp(0, 255).to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous();
}

torch::Tensor crop_clip(const torch::Tensor& clip, const CropBox& box) {
  check_uint8_clip(clip, "crop_clip");
  const int64_t H = clip.size(1), W = clip.size(2);
  if (box.top < 0 || box.left < 0 || box.height < 1 || box.width < 1 || box.top + box.height > H ||
      box.left + box.width > W) {
    throw Error("crop_clip: " + box_text(box) + " is not inside the " + std::to_string(H) + "x" +
                std::to_string(W) + " frame");
  }
  return clip.narrow(1, box.top, box.height).narrow(2, box.left, box.width);
}

torch::Tensor center_crop(const torch::Tensor& clip, int64_t height, int64_t width) {
  check_uint8_clip(clip, "center_crop");
  const int64_t H = clip.size(1), W = clip.size(2);
  if (height > H || width > W) {
    throw Error("center_crop: " + std::to_string(height) + "x" + std::to_string(width) +
                " is larger than the " + std::to_string(H) + "x" + std::to_string(W) + " frame");
  }
  const int64_t left = round_half_even(static_cast<double>(W - width) / 2.0);
  const int64_t top = round_half_even(static_cast<double>(H - height) / 2.0);
  return crop_clip(clip, {top, left, height, width});
}

torch::Tensor test_spatial_crop(const torch::Tensor& clip, int64_t short_side, int64_t num_crops,
                                int64_t crop) {
  check_uint8_clip(clip, "test_spatial_crop");
  const int64_t H = clip.size(1), W = clip.size(2);
  const int64_t start = test_spatial_start(std::max(H, W), short_side, num_crops, crop);
  // Python slicing clamps the end; the start is never negative for frames >= short_side.
  if (H >= W) {
    const int64_t len = std::min(short_side, H - start);
    return clip.narrow(1, start, len);
  }
  const int64_t len = std::min(short_side, W - start);
  return clip.narrow(2, start, len);
}

std::optional<CropBox> voxceleb2_precrop(int64_t image_size) {
  if (image_size == 192) return CropBox{0, 16, 192, 192};
  if (image_size <= 160) return CropBox{0, 32, 160, 160};
  return std::nullopt;
}

CropBox sample_multi_scale_crop_box(int64_t height, int64_t width,
                                    const MultiScaleCropOptions& options, Rng& rng) {
  const int64_t out = options.output_size;
  const int64_t base = std::min(height, width);
  std::vector<int64_t> sizes;
  for (double s : options.scales) {
    const int64_t size = static_cast<int64_t>(static_cast<double>(base) * s);
    sizes.push_back(std::abs(size - out) < 3 ? out : size);
  }
  std::vector<std::pair<int64_t, int64_t>> pairs;  // (w, h), in the reference's order
  for (size_t i = 0; i < sizes.size(); ++i) {
    for (size_t j = 0; j < sizes.size(); ++j) {
      if (std::abs(static_cast<int64_t>(i) - static_cast<int64_t>(j)) <= options.max_distort) {
        pairs.emplace_back(sizes[j], sizes[i]);
      }
    }
  }
  if (pairs.empty()) throw Error("multi-scale crop: no scales configured");
  const auto [cw, ch] =
      pairs[static_cast<size_t>(randint(rng, 0, static_cast<int64_t>(pairs.size()) - 1))];
  if (!options.fix_crop) {
    return {randint(rng, 0, height - ch), randint(rng, 0, width - cw), ch, cw};
  }
  const int64_t ws = floor_div(width - cw, 4), hs = floor_div(height - ch, 4);
  std::vector<std::pair<int64_t, int64_t>> offsets = {// (x, y)
                                                      {0, 0},
                                                      {4 * ws, 0},
                                                      {0, 4 * hs},
                                                      {4 * ws, 4 * hs},
                                                      {2 * ws, 2 * hs}};
  if (options.more_fix_crop) {
    const std::vector<std::pair<int64_t, int64_t>> more = {
        {0, 2 * hs}, {4 * ws, 2 * hs}, {2 * ws, 4 * hs}, {2 * ws, 0},
        {ws, hs},    {3 * ws, hs},     {ws, 3 * hs},     {3 * ws, 3 * hs}};
    offsets.insert(offsets.end(), more.begin(), more.end());
  }
  const auto [x, y] =
      offsets[static_cast<size_t>(randint(rng, 0, static_cast<int64_t>(offsets.size()) - 1))];
  return {y, x, ch, cw};
}

torch::Tensor multi_scale_crop(const torch::Tensor& clip, const MultiScaleCropOptions& options,
                               Rng& rng) {
  check_uint8_clip(clip, "multi_scale_crop");
  const CropBox box = sample_multi_scale_crop_box(clip.size(1), clip.size(2), options, rng);
  return resize_clip(pil_crop(clip, box).contiguous(), options.output_size, options.output_size);
}

torch::Tensor to_normalized_float(const torch::Tensor& clip) {
  check_uint8_clip(clip, "to_normalized_float");
  const int64_t C = clip.size(3);
  if (C != 3) throw Error("to_normalized_float: expected 3 channels, got " + std::to_string(C));
  // (x / 255 - mean) / std in float32 takes 256 values per channel: a table, written straight
  // into the [C, T, H, W] layout (one pass instead of four tensor ops and a transpose).
  float table[3][256];
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v)
      table[c][v] = (static_cast<float>(v) / 255.0f - static_cast<float>(kImagenetMean[c])) /
                    static_cast<float>(kImagenetStd[c]);
  const torch::Tensor in = clip.contiguous();
  const int64_t T = in.size(0), N = in.size(1) * in.size(2);
  torch::Tensor out = torch::empty({3, T, in.size(1), in.size(2)}, torch::kFloat32);
  const uint8_t* s = in.data_ptr<uint8_t>();
  float* d = out.data_ptr<float>();
  for (int c = 0; c < 3; ++c) {
    float* dc = d + c * T * N;
    const float* lut = table[c];
    for (int64_t i = 0; i < T * N; ++i) dc[i] = lut[s[i * 3 + c]];
  }
  return out;
}

CropBox sample_resized_crop_box(int64_t height, int64_t width, Rng& rng,
                                std::array<double, 2> scale, std::array<double, 2> ratio,
                                int tries) {
  const double area = static_cast<double>(height * width);
  const double log_lo = std::log(ratio[0]), log_hi = std::log(ratio[1]);
  for (int attempt = 0; attempt < tries; ++attempt) {
    const double target = uniform(rng, scale[0], scale[1]) * area;
    const double aspect = std::exp(uniform(rng, log_lo, log_hi));
    const int64_t w = round_half_even(std::sqrt(target * aspect));
    const int64_t h = round_half_even(std::sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int64_t top = randint(rng, 0, height - h);
      const int64_t left = randint(rng, 0, width - w);
      return {top, left, h, w};
    }
  }
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  const double lo = std::min(ratio[0], ratio[1]), hi = std::max(ratio[0], ratio[1]);
  int64_t w = width, h = height;
  if (in_ratio < lo) {
    h = round_half_even(static_cast<double>(w) / lo);
  } else if (in_ratio > hi) {
    w = round_half_even(static_cast<double>(h) * hi);
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

torch::Tensor crop_and_resize(const torch::Tensor& clip, const CropBox& box, int64_t out_height,
                              int64_t out_width) {
  if (!clip.defined() || clip.dim() < 2 || !clip.is_floating_point()) {
    throw Error("crop_and_resize: expected a float tensor [..., H, W]");
  }
  const int64_t H = clip.size(-2), W = clip.size(-1);
  if (box.top < 0 || box.left < 0 || box.height < 1 || box.width < 1 || box.top + box.height > H ||
      box.left + box.width > W) {
    throw Error("crop_and_resize: " + box_text(box) + " is not inside the " + std::to_string(H) +
                "x" + std::to_string(W) + " frame");
  }
  const torch::Tensor cropped =
      clip.narrow(-2, box.top, box.height).narrow(-1, box.left, box.width);
  // Every plane is resized on its own, so any leading shape can be folded into the batch.
  std::vector<int64_t> out_shape(clip.sizes().begin(), clip.sizes().end() - 2);
  const torch::Tensor planes = cropped.reshape({-1, 1, box.height, box.width});
  const torch::Tensor resized =
      F::interpolate(planes, F::InterpolateFuncOptions()
                                 .size(std::vector<int64_t>{out_height, out_width})
                                 .mode(torch::kBilinear)
                                 .align_corners(false));
  out_shape.push_back(out_height);
  out_shape.push_back(out_width);
  return resized.reshape(out_shape);
}

torch::Tensor random_resized_crop(const torch::Tensor& clip, int64_t out_height, int64_t out_width,
                                  Rng& rng, std::array<double, 2> scale,
                                  std::array<double, 2> ratio) {
  const CropBox box = sample_resized_crop_box(clip.size(-2), clip.size(-1), rng, scale, ratio);
  return crop_and_resize(clip, box, out_height, out_width);
}

torch::Tensor horizontal_flip(const torch::Tensor& clip) {
  return clip.flip({-1});
}

torch::Tensor random_horizontal_flip(const torch::Tensor& clip, double prob, Rng& rng,
                                     bool* flipped) {
  const bool flip = uniform01(rng) < prob;
  if (flipped) *flipped = flip;
  return flip ? horizontal_flip(clip) : clip;
}

}  // namespace dfer::data
