// Pillow's ImageOps / ImageEnhance colour operations on uint8 clips (see image_ops.h).
#include "dfer/data/image_ops.h"
#include "dfer/util/error.h"

namespace dfer::data {

namespace {

// [T, H, W, C] -> [T*C, H*W] as int64, the per-(frame, channel) rows that PIL's per-band
// histograms and lookup tables work on.
torch::Tensor bands(const torch::Tensor& clip) {
  return clip.permute({0, 3, 1, 2}).reshape({clip.size(0) * clip.size(3), -1}).to(torch::kLong);
}

torch::Tensor unbands(const torch::Tensor& rows, const torch::Tensor& like) {
  const int64_t T = like.size(0), H = like.size(1), W = like.size(2), C = like.size(3);
  return rows.reshape({T, C, H, W}).permute({0, 2, 3, 1}).contiguous().to(torch::kUInt8);
}

// Image.blend(degenerate, image, factor) for 8-bit bands: float32 arithmetic
// (in1 + alpha * (in2 - in1)), clipped to [0, 255] when extrapolating, truncated.
torch::Tensor blend(const torch::Tensor& degenerate, const torch::Tensor& clip, double factor) {
  const torch::Tensor a = degenerate.to(torch::kFloat32);
  const torch::Tensor b = clip.to(torch::kFloat32);
  const torch::Tensor out = a + static_cast<float>(factor) * (b - a);
  return out.clamp(0.0, 255.0).trunc().to(torch::kUInt8);
}

}  // namespace

torch::Tensor grey_l24(const torch::Tensor& clip) {
  check_uint8_clip(clip, "grey_l24");
  const torch::Tensor x = clip.to(torch::kInt32);
  using torch::indexing::Ellipsis;
  return (x.index({Ellipsis, 0}) * 19595 + x.index({Ellipsis, 1}) * 38470 +
          x.index({Ellipsis, 2}) * 7471 + 0x8000)
      .__rshift__(16);
}

torch::Tensor auto_contrast(const torch::Tensor& clip) {
  check_uint8_clip(clip, "auto_contrast");
  const torch::Tensor x = bands(clip).to(torch::kFloat64);
  const torch::Tensor lo = std::get<0>(x.min(1, true));
  const torch::Tensor hi = std::get<0>(x.max(1, true));
  // A flat band keeps the identity table; the clamp only avoids dividing by zero there.
  const torch::Tensor scale = 255.0 / (hi - lo).clamp_min(1.0);
  const torch::Tensor mapped = (x * scale - lo * scale).trunc().clamp(0.0, 255.0);
  return unbands(torch::where(hi > lo, mapped, x), clip);
}

torch::Tensor equalize(const torch::Tensor& clip) {
  check_uint8_clip(clip, "equalize");
  const torch::Tensor x = bands(clip);
  const int64_t rows = x.size(0);
  const auto lopt = x.options();
  const torch::Tensor offsets = torch::arange(rows, lopt).mul_(256).view({rows, 1});
  const torch::Tensor hist =
      torch::bincount((x + offsets).reshape({-1}), {}, rows * 256).view({rows, 256});
  const torch::Tensor present = hist > 0;
  const torch::Tensor levels = present.sum(1, true);
  // histo[-1] in PIL is the count of the highest level present.
  const torch::Tensor last_level =
      (torch::arange(256, lopt).view({1, 256}) * present).amax(1, true);
  const torch::Tensor last_count = hist.gather(1, last_level);
  const torch::Tensor step = (x.size(1) - last_count).div(255, "floor");
  const torch::Tensor safe_step = step.clamp_min(1);
  // lut[i] = (step // 2 + sum(h[:i])) // step, then CLIP8 as Image.point does.
  const torch::Tensor before = hist.cumsum(1) - hist;
  const torch::Tensor lut =
      (safe_step.div(2, "floor") + before).div(safe_step, "floor").clamp_max(255);
  const torch::Tensor identity = (levels <= 1) | (step == 0);
  const torch::Tensor mapped = lut.gather(1, x);
  return unbands(torch::where(identity, x, mapped), clip);
}

torch::Tensor invert(const torch::Tensor& clip) {
  check_uint8_clip(clip, "invert");
  return 255 - clip;
}

torch::Tensor posterize(const torch::Tensor& clip, int64_t bits) {
  check_uint8_clip(clip, "posterize");
  if (bits >= 8) return clip.clone();
  if (bits < 0) throw Error("posterize: bits must be >= 0, got " + std::to_string(bits));
  const int64_t mask = ~((int64_t{1} << (8 - bits)) - 1) & 0xFF;
  return clip.to(torch::kInt32).bitwise_and(mask).to(torch::kUInt8);
}

torch::Tensor solarize(const torch::Tensor& clip, int64_t threshold) {
  check_uint8_clip(clip, "solarize");
  // int32 so that a threshold of 256 (no-op) is not wrapped to 0 by uint8 scalar promotion.
  const torch::Tensor x = clip.to(torch::kInt32);
  return torch::where(x < threshold, x, 255 - x).to(torch::kUInt8);
}

torch::Tensor solarize_add(const torch::Tensor& clip, int64_t add, int64_t threshold) {
  check_uint8_clip(clip, "solarize_add");
  const torch::Tensor x = clip.to(torch::kInt32);
  return torch::where(x < threshold, (x + add).clamp(0, 255), x).to(torch::kUInt8);
}

torch::Tensor enhance_color(const torch::Tensor& clip, double factor) {
  check_uint8_clip(clip, "enhance_color");
  const torch::Tensor grey = grey_l24(clip).unsqueeze(-1).expand_as(clip);
  return blend(grey, clip, factor);
}

torch::Tensor enhance_contrast(const torch::Tensor& clip, double factor) {
  check_uint8_clip(clip, "enhance_contrast");
  // Per frame: int(mean of the L image + 0.5), as ImageStat computes it (double sum / count).
  const torch::Tensor grey = grey_l24(clip).to(torch::kFloat64);
  const torch::Tensor mean = (grey.sum({1, 2}) / static_cast<double>(grey.size(1) * grey.size(2)))
                                 .add(0.5)
                                 .trunc()
                                 .view({-1, 1, 1, 1});
  return blend(mean.expand(clip.sizes()), clip, factor);
}

torch::Tensor enhance_brightness(const torch::Tensor& clip, double factor) {
  check_uint8_clip(clip, "enhance_brightness");
  return blend(torch::zeros_like(clip), clip, factor);
}

torch::Tensor enhance_sharpness(const torch::Tensor& clip, double factor) {
  check_uint8_clip(clip, "enhance_sharpness");
  const int64_t T = clip.size(0), H = clip.size(1), W = clip.size(2), C = clip.size(3);
  torch::Tensor degenerate = clip.clone();
  if (H >= 3 && W >= 3) {
    // ImageFilter.SMOOTH: 3x3 kernel (1 1 1 / 1 5 1 / 1 1 1) / 13 in float32 with a 0.5
    // rounding offset on the interior; Pillow copies the border pixels unchanged.
    const auto fopt = torch::TensorOptions().dtype(torch::kFloat32).device(clip.device());
    torch::Tensor kernel = torch::ones({1, 1, 3, 3}, fopt);
    kernel.index_put_({0, 0, 1, 1}, 5.0);
    kernel = kernel / 13.0f;
    const torch::Tensor planes =
        clip.permute({0, 3, 1, 2}).reshape({T * C, 1, H, W}).to(torch::kFloat32);
    const torch::Tensor smooth =
        (torch::conv2d(planes, kernel) + 0.5f).clamp(0.0, 255.0).trunc().to(torch::kUInt8);
    using torch::indexing::Slice;
    degenerate.index_put_({Slice(), Slice(1, H - 1), Slice(1, W - 1), Slice()},
                          smooth.reshape({T, C, H - 2, W - 2}).permute({0, 2, 3, 1}));
  }
  return blend(degenerate, clip, factor);
}

}  // namespace dfer::data
