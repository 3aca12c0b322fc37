// Affine warps of uint8 clips with Pillow's Image.transform geometry (see image_ops.h), computed
// by OpenCV's fixed-point warpAffine: ~300x faster than a tensor-op gather, which decides whether
// RandAugment keeps up with training (SPEC 3.3.4 only fixes the geometry and the fill).
#include <opencv2/imgproc.hpp>

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
  const torch::Tensor in = clip.contiguous();
  const int64_t T = in.size(0), H = in.size(1), W = in.size(2), C = in.size(3);
  if (C < 1 || C > 4) throw Error("affine_transform: 1 to 4 channels expected");
  // Pillow samples the source at m * (x + 0.5, y + 0.5) and its filters centre their taps on
  // that point - 0.5; OpenCV's inverse map works on pixel indices, so the offsets move into the
  // translation. Outside [0, W) x [0, H) Pillow writes the fill colour (decided on the sample
  // point, before filtering), so edge taps are replicated and those pixels overwritten below.
  cv::Mat map(2, 3, CV_64F);
  map.at<double>(0, 0) = m[0];
  map.at<double>(0, 1) = m[1];
  map.at<double>(0, 2) = 0.5 * m[0] + 0.5 * m[1] + m[2] - 0.5;
  map.at<double>(1, 0) = m[3];
  map.at<double>(1, 1) = m[4];
  map.at<double>(1, 2) = 0.5 * m[3] + 0.5 * m[4] + m[5] - 0.5;
  const int flag = interpolation == Interpolation::kNearest    ? cv::INTER_NEAREST
                   : interpolation == Interpolation::kBilinear ? cv::INTER_LINEAR
                                                               : cv::INTER_CUBIC;
  cv::Mat outside(static_cast<int>(H), static_cast<int>(W), CV_8U);
  for (int64_t y = 0; y < H; ++y) {
    for (int64_t x = 0; x < W; ++x) {
      const double xs = static_cast<double>(x) + 0.5, ys = static_cast<double>(y) + 0.5;
      const double sx = xs * m[0] + ys * m[1] + m[2], sy = xs * m[3] + ys * m[4] + m[5];
      const bool inside =
          sx >= 0.0 && sx < static_cast<double>(W) && sy >= 0.0 && sy < static_cast<double>(H);
      outside.at<uint8_t>(static_cast<int>(y), static_cast<int>(x)) = inside ? 0 : 1;
    }
  }
  const cv::Scalar fill_value = cv::Scalar::all(static_cast<double>(fill));
  torch::Tensor out = torch::empty_like(in);
  const int type = CV_8UC(static_cast<int>(C));
  for (int64_t t = 0; t < T; ++t) {
    cv::Mat src(static_cast<int>(H), static_cast<int>(W), type,
                const_cast<uint8_t*>(in[t].data_ptr<uint8_t>()));
    cv::Mat dst(static_cast<int>(H), static_cast<int>(W), type, out[t].data_ptr<uint8_t>());
    cv::warpAffine(src, dst, map, dst.size(), flag | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
    dst.setTo(fill_value, outside);
  }
  return out;
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
