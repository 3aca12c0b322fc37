// Internal model of the synthetic faces: identity parameters, per-frame facial state (action-unit
// like controls, gaze, head pose) and the OpenCV painter that draws one frame.
#pragma once

#include <opencv2/core.hpp>

#include "synth_rng.h"

namespace dfer::data::detail {

// Everything that stays fixed for a person. Lengths are fractions of the canvas side, relative to
// the face centre; colours are BGR.
struct FaceIdentity {
  double face_a = 0.29, face_b = 0.36;  // half width / half height of the head outline
  double squareness = 2.3;              // superellipse exponent (2 = ellipse)
  double chin_taper = 0.15;
  cv::Scalar skin, lip, hair, iris, sclera, clothes;
  int hair_style = 0;  // 0 short, 1 long, 2 bald, 3 bangs
  double hair_thickness = 0.04, hairline = -0.22;
  double eye_y = -0.02, eye_dx = 0.11, eye_w = 0.052, eye_up = 0.025, eye_lo = 0.017;
  double eye_tilt = 0.05, iris_r = 0.6;  // iris radius as a fraction of eye_w
  double brow_gap = 0.065, brow_len = 0.065, brow_thick = 0.014, brow_arch = 0.012;
  double nose_y = 0.12, nose_w = 0.042;
  double mouth_y = 0.215, mouth_w = 0.078, lip_up = 0.013, lip_lo = 0.017;
  bool glasses = false;
  cv::Scalar glasses_color;
  // Resting expression of the person (added to every frame): some people look a bit sad or
  // cheerful at rest, so a weak expression is not separable from identity in one frame.
  double rest_brow = 0, rest_inner = 0, rest_corner = 0, rest_eye = 0;
};

FaceIdentity random_identity(SynthRng& rng);

// The controls of one frame. Expression controls are roughly in [-1, 1] (0 = neutral).
struct FaceState {
  double brow_raise = 0, brow_inner = 0, brow_squeeze = 0, brow_arch = 0;
  double eye_open = 0, lid_droop = 0, lower_lid = 0, blink = 0;  // blink: 0 open .. 1 closed
  double corner_up = 0, mouth_width = 0, mouth_open = 0, mouth_round = 0;
  double upper_lip = 0, lip_press = 0, nose_wrinkle = 0, asym = 0;
  double eye_pitch = 0, eye_yaw = 0;  // eye-in-head gaze, radians
  double head_yaw = 0, head_pitch = 0, roll = 0, dx = 0, dy = 0, scale = 1;
};

// Draws the person (neck, hair, face, features) over `canvas` (8-bit BGR, square).
void paint_face(const FaceIdentity& id, const FaceState& st, cv::Mat& canvas);

}  // namespace dfer::data::detail
