// Pillow-compatible antialiased bilinear resize (see pil_resize.h). The coefficients follow
// Pillow's Resample.c: for output pixel i, centre = (i + 0.5) * scale, support = max(scale, 1),
// taps from int(centre - support + 0.5) to int(centre + support + 0.5) (clipped to the image),
// weights triangle((x - centre + 0.5) / max(scale, 1)) normalised to sum 1, then fixed point.
#include "dfer/data/pil_resize.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "dfer/util/error.h"

namespace dfer::data {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

struct Taps {
  std::vector<int> first, count;
  std::vector<int32_t> weights;  // count_max per output pixel
  int count_max = 0;
};

Taps make_taps(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;  // the triangle's support is 1
  Taps t;
  t.count_max = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.weights.assign(static_cast<size_t>(out_size) * t.count_max, 0);
  std::vector<double> k(static_cast<size_t>(t.count_max));
  for (int i = 0; i < out_size; ++i) {
    const double centre = (i + 0.5) * scale;
    const int lo = std::max(static_cast<int>(centre - support + 0.5), 0);
    const int n = std::min(static_cast<int>(centre + support + 0.5), in_size) - lo;
    double sum = 0;
    for (int x = 0; x < n; ++x) {
      const double d = std::fabs((x + lo - centre + 0.5) / filterscale);
      k[static_cast<size_t>(x)] = d < 1.0 ? 1.0 - d : 0.0;
      sum += k[static_cast<size_t>(x)];
    }
    for (int x = 0; x < n; ++x) {
      const double w = sum != 0 ? k[static_cast<size_t>(x)] / sum : 0.0;
      const double f = w * (1 << kPrecisionBits);
      t.weights[static_cast<size_t>(i) * t.count_max + x] =
          static_cast<int32_t>(w < 0 ? -0.5 + f : 0.5 + f);
    }
    t.first[static_cast<size_t>(i)] = lo;
    t.count[static_cast<size_t>(i)] = n;
  }
  return t;
}

inline uint8_t clip8(int64_t v) {
  v >>= kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

}  // namespace

void pil_bilinear_resize(const uint8_t* src, int in_h, int in_w, size_t src_stride, int channels,
                         uint8_t* dst, int out_h, int out_w) {
  if (in_h <= 0 || in_w <= 0 || out_h <= 0 || out_w <= 0 || channels <= 0)
    throw Error("resize: empty image or output size");
  const Taps h = make_taps(in_w, out_w), v = make_taps(in_h, out_h);
  // Horizontal pass over the rows the vertical pass reads (all of them), rounded to 8 bits.
  const size_t row = static_cast<size_t>(out_w) * channels;
  std::vector<uint8_t> mid(static_cast<size_t>(in_h) * row);
  const int64_t half = int64_t{1} << (kPrecisionBits - 1);
  for (int y = 0; y < in_h; ++y) {
    const uint8_t* in = src + static_cast<size_t>(y) * src_stride;
    uint8_t* out = mid.data() + static_cast<size_t>(y) * row;
    for (int x = 0; x < out_w; ++x) {
      const int32_t* w = &h.weights[static_cast<size_t>(x) * h.count_max];
      const int lo = h.first[static_cast<size_t>(x)], n = h.count[static_cast<size_t>(x)];
      for (int c = 0; c < channels; ++c) {
        int64_t s = half;
        for (int k = 0; k < n; ++k) s += int64_t{in[(lo + k) * channels + c]} * w[k];
        out[x * channels + c] = clip8(s);
      }
    }
  }
  for (int y = 0; y < out_h; ++y) {
    const int32_t* w = &v.weights[static_cast<size_t>(y) * v.count_max];
    const int lo = v.first[static_cast<size_t>(y)], n = v.count[static_cast<size_t>(y)];
    uint8_t* out = dst + static_cast<size_t>(y) * row;
    for (size_t i = 0; i < row; ++i) {
      int64_t s = half;
      for (int k = 0; k < n; ++k) s += int64_t{mid[static_cast<size_t>(lo + k) * row + i]} * w[k];
      out[i] = clip8(s);
    }
  }
}

}  // namespace dfer::data
