// Affine warps of uint8 clips with Pillow's Image.transform sampling (see image_ops.h).
#include <cmath>
#include <vector>

#include "dfer/data/image_ops.h"
#include "dfer/util/error.h"

namespace dfer::data {

namespace {

// Python round(x, 15), which Image.rotate applies to its matrix so that right angles are exact.
double round15(double x) {
  return std::round(x * 1e15) / 1e15;
}

struct Taps {
  std::vector<int64_t> offsets;  // relative to floor(coordinate - 0.5)
  std::vector<torch::Tensor> weights;
};

// Pillow's transform filters: bilinear (1-d, d) and its bicubic with a = -1
// (v2 + d(v3 - v1) + d^2(2v1 - 2v2 + v3 - v4) + d^3(v2 - v1 + v4 - v3)) written as tap weights.
Taps make_taps(const torch::Tensor& d, Interpolation interpolation) {
  Taps t;
  if (interpolation == Interpolation::kBilinear) {
    t.offsets = {0, 1};
    t.weights = {1.0 - d, d};
  } else {
    const torch::Tensor d2 = d * d;
    const torch::Tensor d3 = d2 * d;
    t.offsets = {-1, 0, 1, 2};
    t.weights = {-d + 2.0 * d2 - d3, 1.0 - 2.0 * d2 + d3, d + d2 - d3, d3 - d2};
  }
  return t;
}

}  // namespace

Interpolation parse_interpolation(const std::string& name) {
  if (name == "nearest") return Interpolation::kNearest;
  if (name == "bilinear") return Interpolation::kBilinear;
  if (name == "bicubic") return Interpolation::kBicubic;
  throw UsageError("unknown interpolation '" + name + "' (expected nearest, bilinear or bicubic)");
}

void check_uint8_clip(const torch::Tensor& clip, const char* what) {
  if (!clip.defined() || clip.dim() != 4 || clip.scalar_type() != torch::kUInt8) {
    throw Error(std::string(what) + ": expected a uint8 clip [T, H, W, C], got " +
                (clip.defined()
                     ? std::string(c10::toString(clip.scalar_type())) + " " + c10::str(clip.sizes())
                     : std::string("an undefined tensor")));
  }
}

torch::Tensor affine_transform(const torch::Tensor& clip, const std::array<double, 6>& m,
                               Interpolation interpolation, int64_t fill) {
  check_uint8_clip(clip, "affine_transform");
  const int64_t T = clip.size(0), H = clip.size(1), W = clip.size(2), C = clip.size(3);
  // Double precision: the final value is truncated, so float32 noise would flip whole levels.
  const auto dopt = torch::TensorOptions().dtype(torch::kFloat64).device(clip.device());
  const torch::Tensor xs = torch::arange(W, dopt).add_(0.5).view({1, W});
  const torch::Tensor ys = torch::arange(H, dopt).add_(0.5).view({H, 1});
  const torch::Tensor sx = (xs * m[0] + ys * m[1] + m[2]).reshape({-1});
  const torch::Tensor sy = (xs * m[3] + ys * m[4] + m[5]).reshape({-1});
  const torch::Tensor inside =
      (sx >= 0.0) & (sx < static_cast<double>(W)) & (sy >= 0.0) & (sy < static_cast<double>(H));
  const torch::Tensor flat = clip.reshape({T, H * W, C});

  torch::Tensor out;
  if (interpolation == Interpolation::kNearest) {
    // Pillow: COORD(v) = (int)v for v >= 0, the out-of-range test comes first.
    const torch::Tensor ix = sx.floor().clamp(0, W - 1).to(torch::kLong);
    const torch::Tensor iy = sy.floor().clamp(0, H - 1).to(torch::kLong);
    out = flat.index_select(1, iy * W + ix).to(torch::kFloat64);
  } else {
    const torch::Tensor fxs = sx - 0.5, fys = sy - 0.5;
    const torch::Tensor fx = fxs.floor(), fy = fys.floor();
    const Taps tx = make_taps(fxs - fx, interpolation);
    const Taps ty = make_taps(fys - fy, interpolation);
    const torch::Tensor fxl = fx.to(torch::kLong), fyl = fy.to(torch::kLong);
    const torch::Tensor fflat = flat.to(torch::kFloat64);
    out = torch::zeros({T, H * W, C}, dopt);
    for (size_t j = 0; j < ty.offsets.size(); ++j) {
      const torch::Tensor row = (fyl + ty.offsets[j]).clamp(0, H - 1) * W;
      for (size_t i = 0; i < tx.offsets.size(); ++i) {
        const torch::Tensor col = (fxl + tx.offsets[i]).clamp(0, W - 1);
        const torch::Tensor w = (ty.weights[j] * tx.weights[i]).view({1, H * W, 1});
        out.add_(fflat.index_select(1, row + col) * w);
      }
    }
    // Pillow clamps to [0, 255] and truncates toward zero.
    out = out.clamp(0.0, 255.0).trunc();
  }
  out = torch::where(inside.view({1, H * W, 1}), out,
                     torch::full({}, static_cast<double>(fill), dopt));
  return out.to(torch::kUInt8).reshape({T, H, W, C});
}

torch::Tensor rotate(const torch::Tensor& clip, double degrees, Interpolation interpolation,
                     int64_t fill) {
  check_uint8_clip(clip, "rotate");
  double angle = std::fmod(degrees, 360.0);
  if (angle < 0) angle += 360.0;
  if (angle == 0.0) return clip.clone();
  const double w = static_cast<double>(clip.size(2)), h = static_cast<double>(clip.size(1));
  const double cx = w / 2.0, cy = h / 2.0;
  const double r = -angle * 3.14159265358979323846 / 180.0;
  std::array<double, 6> m = {round15(std::cos(r)),  round15(std::sin(r)), 0.0,
                             round15(-std::sin(r)), round15(std::cos(r)), 0.0};
  // Pillow maps the centre to itself: translate by -centre, rotate, translate back.
  m[2] = m[0] * -cx + m[1] * -cy + cx;
  m[5] = m[3] * -cx + m[4] * -cy + cy;
  return affine_transform(clip, m, interpolation, fill);
}

torch::Tensor shear_x(const torch::Tensor& clip, double factor, Interpolation interpolation,
                      int64_t fill) {
  return affine_transform(clip, {1.0, factor, 0.0, 0.0, 1.0, 0.0}, interpolation, fill);
}

torch::Tensor shear_y(const torch::Tensor& clip, double factor, Interpolation interpolation,
                      int64_t fill) {
  return affine_transform(clip, {1.0, 0.0, 0.0, factor, 1.0, 0.0}, interpolation, fill);
}

torch::Tensor translate_x(const torch::Tensor& clip, double pixels, Interpolation interpolation,
                          int64_t fill) {
  return affine_transform(clip, {1.0, 0.0, pixels, 0.0, 1.0, 0.0}, interpolation, fill);
}

torch::Tensor translate_y(const torch::Tensor& clip, double pixels, Interpolation interpolation,
                          int64_t fill) {
  return affine_transform(clip, {1.0, 0.0, 0.0, 0.0, 1.0, pixels}, interpolation, fill);
}

}  // namespace dfer::data
