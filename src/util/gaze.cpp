// Gaze direction conventions (see gaze.h).
#include "dfer/util/gaze.h"

#include <algorithm>
#include <cmath>

namespace dfer {

namespace {
constexpr double kPi = 3.14159265358979323846;
constexpr double kSlack = 1e-4;  // labels stored as text with ~7 digits may overshoot by rounding
}  // namespace

PitchYaw gaze_vector_to_pitch_yaw(double x, double y, double z) {
  const double n = std::sqrt(x * x + y * y + z * z);
  const double yn = n > 0 ? std::clamp(y / n, -1.0, 1.0) : 0.0;
  // -z + 0.0 turns -0.0 into +0.0, so straight up / down gives yaw 0 rather than atan2(0, -0) = pi.
  return {std::asin(yn), std::atan2(x + 0.0, -z + 0.0)};
}

std::array<double, 3> pitch_yaw_to_gaze_vector(double pitch, double yaw) {
  return {std::cos(pitch) * std::sin(yaw), std::sin(pitch), -std::cos(pitch) * std::cos(yaw)};
}

double angular_error_deg(double p1, double y1, double p2, double y2) {
  const auto a = pitch_yaw_to_gaze_vector(p1, y1);
  const auto b = pitch_yaw_to_gaze_vector(p2, y2);
  const double dot = std::clamp(a[0] * b[0] + a[1] * b[1] + a[2] * b[2], -1.0, 1.0);
  return std::acos(dot) * 180.0 / kPi;
}

const char* gaze_label_problem(double pitch, double yaw) {
  if (!std::isfinite(pitch) || !std::isfinite(yaw)) return "pitch and yaw must be finite";
  if (std::abs(pitch) > kPi / 2 + kSlack)
    return "pitch is outside [-pi/2, pi/2] (labels are radians: was it written in degrees?)";
  if (std::abs(yaw) > kPi + kSlack)
    return "yaw is outside [-pi, pi] (labels are radians: was it written in degrees?)";
  return "";
}

}  // namespace dfer
