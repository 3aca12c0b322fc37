// Pillow's ImageOps / ImageEnhance colour operations on uint8 clips (see image_ops.h).
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

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
// (in1 + alpha * (in2 - in1)), clipped to [0, 255] when extrapolating, truncated. Both inputs are
// bytes, so the result is a 256 x 256 table computed once per call.
torch::Tensor blend(const torch::Tensor& degenerate, const torch::Tensor& clip, double factor) {
  const torch::Tensor a = degenerate.contiguous(), b = clip.contiguous();
  const float f = static_cast<float>(factor);
  std::vector<uint8_t> table(256 * 256);
  for (int x = 0; x < 256; ++x) {
    for (int y = 0; y < 256; ++y) {
      const float v = static_cast<float>(x) + f * (static_cast<float>(y) - static_cast<float>(x));
      table[static_cast<size_t>(x * 256 + y)] = static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f));
    }
  }
  torch::Tensor out = torch::empty_like(b);
  const uint8_t* pa = a.data_ptr<uint8_t>();
  const uint8_t* pb = b.data_ptr<uint8_t>();
  uint8_t* po = out.data_ptr<uint8_t>();
  const int64_t n = b.numel();
  for (int64_t i = 0; i < n; ++i) po[i] = table[static_cast<size_t>(pa[i]) * 256 + pb[i]];
  return out;
}

// Maps every byte of the clip through one table.
torch::Tensor apply_lut(const torch::Tensor& clip, const std::array<uint8_t, 256>& lut) {
  const torch::Tensor in = clip.contiguous();
  torch::Tensor out = torch::empty_like(in);
  const uint8_t* s = in.data_ptr<uint8_t>();
  uint8_t* d = out.data_ptr<uint8_t>();
  const int64_t n = in.numel();
  for (int64_t i = 0; i < n; ++i) d[i] = lut[s[i]];
  return out;
}

template <typename F>
std::array<uint8_t, 256> make_lut(F f) {
  std::array<uint8_t, 256> lut{};
  for (int v = 0; v < 256; ++v) lut[static_cast<size_t>(v)] = static_cast<uint8_t>(f(v));
  return lut;
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

// The per-band operations below run as plain loops over the uint8 data: tensor-op versions
// (bincount, gather, conv2d on one-channel planes) cost ~100-300 ms per 16x160x160 clip on
// LibTorch's CPU kernels, which alone capped the loader at a few clips per second.
namespace {
// Applies one 256-entry lookup table per (frame, channel) band; `make_lut` fills it from the
// band's values (strided view: C apart, H*W of them).
template <typename MakeLut>
torch::Tensor per_band_lut(const torch::Tensor& clip, MakeLut make_lut) {
  const torch::Tensor in = clip.contiguous();
  const int64_t T = in.size(0), N = in.size(1) * in.size(2), C = in.size(3);
  torch::Tensor out = torch::empty_like(in);
  const uint8_t* src = in.data_ptr<uint8_t>();
  uint8_t* dst = out.data_ptr<uint8_t>();
  std::array<uint8_t, 256> lut{};
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t c = 0; c < C; ++c) {
      const uint8_t* s = src + t * N * C + c;
      uint8_t* d = dst + t * N * C + c;
      make_lut(s, N, C, lut);
      for (int64_t i = 0; i < N; ++i) d[i * C] = lut[s[i * C]];
    }
  }
  return out;
}
}  // namespace

torch::Tensor auto_contrast(const torch::Tensor& clip) {
  check_uint8_clip(clip, "auto_contrast");
  return per_band_lut(clip, [](const uint8_t* s, int64_t n, int64_t stride,
                               std::array<uint8_t, 256>& lut) {
    uint8_t lo = 255, hi = 0;
    for (int64_t i = 0; i < n; ++i) {
      lo = std::min(lo, s[i * stride]);
      hi = std::max(hi, s[i * stride]);
    }
    for (int v = 0; v < 256; ++v) lut[static_cast<size_t>(v)] = static_cast<uint8_t>(v);
    if (hi <= lo) return;  // a flat band keeps the identity table
    // ImageOps.autocontrast: scale = 255 / (hi - lo), offset = -lo * scale, int(v * scale + offset)
    const double scale = 255.0 / static_cast<double>(hi - lo);
    for (int v = 0; v < 256; ++v) {
      const double m = std::trunc(static_cast<double>(v) * scale - static_cast<double>(lo) * scale);
      lut[static_cast<size_t>(v)] = static_cast<uint8_t>(std::clamp(m, 0.0, 255.0));
    }
  });
}

torch::Tensor equalize(const torch::Tensor& clip) {
  check_uint8_clip(clip, "equalize");
  return per_band_lut(
      clip, [](const uint8_t* s, int64_t n, int64_t stride, std::array<uint8_t, 256>& lut) {
        std::array<int64_t, 256> hist{};
        for (int64_t i = 0; i < n; ++i) ++hist[s[i * stride]];
        for (int v = 0; v < 256; ++v) lut[static_cast<size_t>(v)] = static_cast<uint8_t>(v);
        int levels = 0, last = 0;
        for (int v = 0; v < 256; ++v)
          if (hist[static_cast<size_t>(v)] > 0) ++levels, last = v;
        // ImageOps.equalize: step = (n - histo[-1]) // 255, lut[i] = (step // 2 + sum(h[:i])) //
        // step
        const int64_t step = (n - hist[static_cast<size_t>(last)]) / 255;
        if (levels <= 1 || step == 0) return;
        int64_t before = 0;
        for (int v = 0; v < 256; ++v) {
          lut[static_cast<size_t>(v)] =
              static_cast<uint8_t>(std::min<int64_t>((step / 2 + before) / step, 255));
          before += hist[static_cast<size_t>(v)];
        }
      });
}

torch::Tensor invert(const torch::Tensor& clip) {
  check_uint8_clip(clip, "invert");
  return apply_lut(clip, make_lut([](int v) { return 255 - v; }));
}

torch::Tensor posterize(const torch::Tensor& clip, int64_t bits) {
  check_uint8_clip(clip, "posterize");
  if (bits >= 8) return clip.clone();
  if (bits < 0) throw Error("posterize: bits must be >= 0, got " + std::to_string(bits));
  const int mask = static_cast<int>(~((int64_t{1} << (8 - bits)) - 1) & 0xFF);
  return apply_lut(clip, make_lut([mask](int v) { return v & mask; }));
}

torch::Tensor solarize(const torch::Tensor& clip, int64_t threshold) {
  check_uint8_clip(clip, "solarize");
  return apply_lut(clip, make_lut([threshold](int v) { return v < threshold ? v : 255 - v; }));
}

torch::Tensor solarize_add(const torch::Tensor& clip, int64_t add, int64_t threshold) {
  check_uint8_clip(clip, "solarize_add");
  return apply_lut(clip, make_lut([add, threshold](int v) {
                     return v < threshold ? std::clamp<int64_t>(v + add, 0, 255) : v;
                   }));
}

torch::Tensor enhance_color(const torch::Tensor& clip, double factor) {
  check_uint8_clip(clip, "enhance_color");
  const torch::Tensor grey = grey_l24(clip).to(torch::kUInt8).unsqueeze(-1).expand_as(clip);
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
  return blend(mean.to(torch::kUInt8).expand(clip.sizes()), clip, factor);
}

torch::Tensor enhance_brightness(const torch::Tensor& clip, double factor) {
  check_uint8_clip(clip, "enhance_brightness");
  return blend(torch::zeros_like(clip), clip, factor);
}

torch::Tensor enhance_sharpness(const torch::Tensor& clip, double factor) {
  check_uint8_clip(clip, "enhance_sharpness");
  const torch::Tensor in = clip.contiguous();
  const int64_t T = in.size(0), H = in.size(1), W = in.size(2), C = in.size(3);
  torch::Tensor degenerate = in.clone();
  if (H >= 3 && W >= 3) {
    // ImageFilter.SMOOTH: 3x3 kernel (1 1 1 / 1 5 1 / 1 1 1) / 13 with a 0.5 rounding offset on
    // the interior; Pillow copies the border pixels unchanged. The integer sum is exact.
    const uint8_t* s = in.data_ptr<uint8_t>();
    uint8_t* d = degenerate.data_ptr<uint8_t>();
    const int64_t row = W * C, frame = H * row;
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t y = 1; y < H - 1; ++y) {
        const uint8_t* up = s + t * frame + (y - 1) * row;
        const uint8_t* mid = up + row;
        const uint8_t* dn = mid + row;
        uint8_t* o = d + t * frame + y * row;
        for (int64_t i = C; i < (W - 1) * C; ++i) {
          const int sum = up[i - C] + up[i] + up[i + C] + mid[i - C] + 5 * mid[i] + mid[i + C] +
                          dn[i - C] + dn[i] + dn[i + C];
          const float v = static_cast<float>(sum) / 13.0f + 0.5f;
          o[i] = static_cast<uint8_t>(std::min(v, 255.0f));
        }
      }
    }
  }
  return blend(degenerate, in, factor);
}

}  // namespace dfer::data
