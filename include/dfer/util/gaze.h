// Gaze direction conventions shared by data preparation, losses and metrics: (pitch, yaw) in
// radians <-> unit 3-D gaze vectors, the angle between two directions, and the checks a gaze label
// must pass. Torch-free.
#pragma once

#include <array>

namespace dfer {

// Gaze360's camera frame: x to the image right, y up, z away from the camera; a subject looking
// into the camera has gaze (0, 0, -1). pitch = asin(y) (> 0 looking up), yaw = atan2(x, -z)
// (> 0 looking to the image right). The inputs need not be unit vectors; y is divided by the norm
// and clamped to [-1, 1] first (the reference's unclamped asin gives NaN for |y| > 1 by rounding).
struct PitchYaw {
  double pitch = 0, yaw = 0;
};
PitchYaw gaze_vector_to_pitch_yaw(double x, double y, double z);

// The unit vector of (pitch, yaw): (cos p sin y, sin p, -cos p cos y). Inverse of the above for
// |pitch| <= pi/2 and |yaw| <= pi.
std::array<double, 3> pitch_yaw_to_gaze_vector(double pitch, double yaw);

// Angle in degrees between the directions (p1, y1) and (p2, y2): acos of the clamped dot product
// of their unit vectors (SPEC 5.4).
double angular_error_deg(double p1, double y1, double p2, double y2);

// Valid label ranges: |pitch| <= pi/2, |yaw| <= pi (with a 1e-4 slack for rounding in stored
// text). Returns an empty string when (pitch, yaw) is a valid label, else what is wrong with it.
const char* gaze_label_problem(double pitch, double yaw);

}  // namespace dfer
