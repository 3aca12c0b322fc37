// Random identities for the synthetic faces: head shape, skin tone, eyes, brows, hair, glasses.
#include <algorithm>
#include <array>

#include "synth_face.h"

namespace dfer::data::detail {

namespace {

cv::Scalar rgb(double r, double g, double b) {
  return cv::Scalar(b, g, r);
}

cv::Scalar lerp(const cv::Scalar& a, const cv::Scalar& b, double t) {
  return a * (1 - t) + b * t;
}

cv::Scalar jitter(const cv::Scalar& c, SynthRng& rng, double amount) {
  cv::Scalar out;
  for (int k = 0; k < 3; ++k) out[k] = std::clamp(c[k] + rng.uniform(-amount, amount), 0.0, 255.0);
  return out;
}

}  // namespace

FaceIdentity random_identity(SynthRng& rng) {
  FaceIdentity id;
  id.face_a = rng.uniform(0.26, 0.31);
  id.face_b = rng.uniform(0.33, 0.38);
  id.squareness = rng.uniform(2.0, 2.8);
  id.chin_taper = rng.uniform(0.05, 0.3);

  // Skin: a continuum from very light to dark, with a little hue variation.
  static const std::array<cv::Scalar, 6> kSkin = {rgb(241, 214, 196), rgb(226, 186, 160),
                                                  rgb(198, 150, 118), rgb(170, 120, 88),
                                                  rgb(130, 88, 62),   rgb(92, 62, 45)};
  double t = rng.uniform(0, 5);
  int k = std::min(4, static_cast<int>(t));
  id.skin = jitter(lerp(kSkin[k], kSkin[k + 1], t - k), rng, 8);
  id.lip = cv::Scalar(id.skin[0] * 0.55, id.skin[1] * 0.5, std::min(255.0, id.skin[2] * 0.82 + 30));

  static const std::array<cv::Scalar, 6> kHair = {rgb(30, 28, 28),  rgb(75, 50, 35),
                                                  rgb(125, 85, 55), rgb(205, 170, 110),
                                                  rgb(150, 70, 40), rgb(160, 160, 158)};
  id.hair = jitter(kHair[rng.integer(0, 5)], rng, 10);
  double style = rng.uniform();
  id.hair_style = style < 0.4 ? 0 : style < 0.7 ? 1 : style < 0.8 ? 2 : 3;
  id.hair_thickness = rng.uniform(0.02, 0.06);
  id.hairline = id.hair_style == 3 ? rng.uniform(-0.2, -0.17) : rng.uniform(-0.27, -0.2);

  static const std::array<cv::Scalar, 5> kIris = {
      rgb(70, 45, 30), rgb(110, 75, 45), rgb(70, 110, 150), rgb(80, 120, 80), rgb(40, 30, 25)};
  id.iris = jitter(kIris[rng.integer(0, 4)], rng, 10);
  id.sclera = jitter(rgb(238, 236, 232), rng, 6);
  id.clothes = jitter(cv::Scalar(125, 125, 125), rng, 105);  // channels drawn in order

  id.eye_y = rng.uniform(-0.04, 0.0);
  id.eye_dx = rng.uniform(0.1, 0.12);
  id.eye_w = rng.uniform(0.046, 0.058);
  id.eye_up = id.eye_w * rng.uniform(0.45, 0.58);
  id.eye_lo = id.eye_w * rng.uniform(0.3, 0.4);
  id.eye_tilt = rng.uniform(-0.08, 0.15);
  id.iris_r = rng.uniform(0.48, 0.58);

  id.brow_gap = rng.uniform(0.055, 0.07);
  id.brow_len = rng.uniform(0.058, 0.072);
  id.brow_thick = rng.uniform(0.011, 0.019);
  id.brow_arch = rng.uniform(0.004, 0.018);

  id.nose_y = id.eye_y + rng.uniform(0.12, 0.145);
  id.nose_w = rng.uniform(0.036, 0.05);
  id.mouth_y = id.nose_y + rng.uniform(0.085, 0.105);
  id.mouth_w = rng.uniform(0.075, 0.095);
  id.lip_up = rng.uniform(0.01, 0.016);
  id.lip_lo = rng.uniform(0.012, 0.02);

  id.glasses = rng.chance(0.15);
  id.glasses_color = jitter(rng.chance(0.5) ? rgb(25, 25, 25) : rgb(150, 140, 120), rng, 15);

  id.rest_brow = rng.uniform(-0.15, 0.15);
  id.rest_inner = rng.uniform(-0.15, 0.15);
  id.rest_corner = rng.uniform(-0.15, 0.15);
  id.rest_eye = rng.uniform(-0.15, 0.15);
  return id;
}

}  // namespace dfer::data::detail
