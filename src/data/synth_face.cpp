// Drawing one synthetic face: every shape is a polygon in face coordinates, moved by a pseudo-3D
// head pose (features nearer the camera shift more with yaw/pitch) and filled anti-aliased.
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "synth_face.h"

namespace dfer::data::detail {

namespace {

using Pts = std::vector<cv::Point2d>;
constexpr double kPi = 3.14159265358979323846;
constexpr int kShift = 4;  // sub-pixel bits for cv drawing

cv::Scalar mix(const cv::Scalar& a, const cv::Scalar& b, double t) {
  t = std::clamp(t, 0.0, 1.0);
  return a * (1.0 - t) + b * t;
}

double clamp1(double v) {
  return std::clamp(v, -1.0, 1.0);
}

class Painter {
 public:
  Painter(cv::Mat& img, const FaceState& st) : img_(img), st_(st), side_(img.cols) {
    c_ = std::cos(st.roll);
    s_ = std::sin(st.roll);
  }

  cv::Point map(const cv::Point2d& p, double depth) const {
    double x = p.x + st_.head_yaw * depth * 0.16;
    double y = p.y - st_.head_pitch * depth * 0.14;
    double rx = (x * c_ - y * s_) * st_.scale + 0.5 + st_.dx;
    double ry = (x * s_ + y * c_) * st_.scale + 0.48 + st_.dy;
    const double k = side_ * (1 << kShift);
    return {static_cast<int>(std::lround(rx * k)), static_cast<int>(std::lround(ry * k))};
  }

  void fill(const Pts& poly, double depth, const cv::Scalar& color) {
    std::vector<cv::Point> q;
    q.reserve(poly.size());
    for (const auto& p : poly) q.push_back(map(p, depth));
    const cv::Point* pts = q.data();
    int n = static_cast<int>(q.size());
    cv::fillPoly(img_, &pts, &n, 1, color, cv::LINE_AA, kShift);
  }

  void line(const Pts& pts, double depth, const cv::Scalar& color, double thickness,
            bool closed = false) {
    std::vector<cv::Point> q;
    for (const auto& p : pts) q.push_back(map(p, depth));
    int t = std::max(1, static_cast<int>(std::lround(thickness * side_ * st_.scale)));
    cv::polylines(img_, q, closed, color, t, cv::LINE_AA, kShift);
  }

  void ellipse(const cv::Point2d& c, double ax, double ay, double depth, const cv::Scalar& color,
               double rot = 0) {
    Pts poly;
    for (int k = 0; k < 28; ++k) {
      double t = 2 * kPi * k / 28;
      double x = ax * std::cos(t), y = ay * std::sin(t);
      poly.push_back({c.x + x * std::cos(rot) - y * std::sin(rot),
                      c.y + x * std::sin(rot) + y * std::cos(rot)});
    }
    fill(poly, depth, color);
  }

 private:
  cv::Mat& img_;
  const FaceState& st_;
  double side_, c_, s_;
};

// Head outline: a superellipse narrowed towards the chin.
cv::Point2d outline_point(const FaceIdentity& id, double t, double grow = 0) {
  double c = std::cos(t), s = std::sin(t);
  double e = 2.0 / id.squareness;
  double x = (id.face_a + grow) * (c < 0 ? -1 : 1) * std::pow(std::abs(c), e);
  double y = (id.face_b + grow) * (s < 0 ? -1 : 1) * std::pow(std::abs(s), e);
  if (y > 0) x *= 1.0 - id.chin_taper * std::pow(y / id.face_b, 2);
  return {x, y};
}

void paint_hair_top(Painter& p, const FaceIdentity& id) {
  if (id.hair_style == 2) return;  // bald
  const double temple_y = id.eye_y - 0.055;
  double q = std::pow(std::min(0.99, -temple_y / id.face_b), id.squareness / 2.0);
  double t_left = kPi + std::asin(q), t_right = 2 * kPi - std::asin(q);
  Pts poly;
  const int n = 24;
  for (int k = 0; k <= n; ++k) {  // outer edge, left temple over the top to the right temple
    double t = t_left + (t_right - t_left) * k / n;
    cv::Point2d o = outline_point(id, t, id.hair_thickness);
    o.y -= id.hair_thickness * 0.6 * std::pow(std::sin(t), 2);  // volume on top
    poly.push_back(o);
  }
  cv::Point2d r = outline_point(id, t_right), l = outline_point(id, t_left);
  for (int k = 0; k <= n; ++k) {  // hairline, right to left
    double x = r.x + (l.x - r.x) * k / n;
    double u = std::abs(x) / std::max(1e-6, r.x);
    double y = id.hairline + (temple_y - id.hairline) * std::pow(u, 2.2);
    if (id.hair_style == 3) y += 0.012 * ((k % 2) ? 1 : -1) * (1 - u);  // jagged bangs
    poly.push_back({x, y});
  }
  p.fill(poly, 0.1, id.hair);
}

void paint_eye(Painter& p, const FaceIdentity& id, const FaceState& st, double side) {
  const double ex = side * id.eye_dx, ey = id.eye_y;
  // Foreshortening: the eye on the side the head turns to looks narrower.
  const double w = id.eye_w * std::clamp(1.0 - 0.8 * st.head_yaw * side, 0.7, 1.2);
  const double widen = st.eye_open > 0 ? 0.8 * st.eye_open : 0.55 * st.eye_open;
  const double open = std::max(0.0, (1.0 + widen + id.rest_eye * 0.3) * (1.0 - st.blink));
  const double up = id.eye_up * open, lo = id.eye_lo * (1.0 - 0.55 * std::max(0.0, st.lower_lid)) *
                                           (1.0 - 0.85 * st.blink);
  const int n = 16;
  auto upper = [&](double u) {  // u in [-1, 1], outer corner at u = side
    double droop = st.lid_droop * 0.45 * std::max(0.0, u * side);
    double y = -up * std::pow(1 - u * u, 0.7) * (1 - droop);
    return cv::Point2d(ex + u * w, ey + y - id.eye_tilt * u * side * w);
  };
  auto lower = [&](double u) {
    return cv::Point2d(ex + u * w, ey + lo * std::pow(1 - u * u, 0.9) - id.eye_tilt * u * side * w);
  };
  Pts white;
  for (int k = 0; k <= n; ++k) white.push_back(upper(-1 + 2.0 * k / n));
  for (int k = n; k >= 0; --k) white.push_back(lower(-1 + 2.0 * k / n));
  const double depth = 0.45;
  p.fill(white, depth, id.sclera);
  // Iris and pupil follow the eye-in-head gaze; the lids drawn next clip them.
  const double ir = id.iris_r * id.eye_w;
  cv::Point2d c(ex + clamp1(st.eye_yaw / 0.7) * w * 0.5,
                ey - clamp1(st.eye_pitch / 0.45) * id.eye_up * 0.7);
  p.ellipse(c, ir, ir, depth, id.iris);
  p.ellipse(c, ir * 0.45, ir * 0.45, depth, cv::Scalar(15, 15, 15));
  p.ellipse({c.x - ir * 0.3, c.y - ir * 0.35}, ir * 0.16, ir * 0.16, depth,
            cv::Scalar(245, 245, 245));
  // Lids: skin polygons from the lid curves outwards, wider than the eye so the iris never shows.
  const double reach = ir * 1.6 + id.eye_up;
  Pts lid_up, lid_lo;
  lid_up.push_back({ex - w * 1.4, ey});
  lid_lo.push_back({ex - w * 1.4, ey});
  for (int k = 0; k <= n; ++k) {
    lid_up.push_back(upper(-1 + 2.0 * k / n));
    lid_lo.push_back(lower(-1 + 2.0 * k / n));
  }
  lid_up.push_back({ex + w * 1.4, ey});
  lid_up.push_back({ex + w * 1.4, ey - reach});
  lid_up.push_back({ex - w * 1.4, ey - reach});
  lid_lo.push_back({ex + w * 1.4, ey});
  lid_lo.push_back({ex + w * 1.4, ey + reach});
  lid_lo.push_back({ex - w * 1.4, ey + reach});
  p.fill(lid_up, depth, id.skin);
  p.fill(lid_lo, depth, id.skin);
  // Lash line, crease, and the cheek bulge under the eye when the lower lid is pushed up.
  Pts lash, crease, cheek;
  const double crease_h = id.eye_up * (0.55 + 0.5 * std::max(0.0, st.eye_open));
  for (int k = 0; k <= n; ++k) {
    double u = -1 + 2.0 * k / n;
    cv::Point2d q = upper(u);
    lash.push_back(q);
    if (std::abs(u) < 0.85)
      crease.push_back({q.x, ey - up * std::pow(1 - u * u, 0.7) - crease_h * std::sqrt(1 - u * u)});
    cv::Point2d r = lower(u);
    if (std::abs(u) < 0.8) cheek.push_back({r.x, r.y + id.eye_lo * 0.9});
  }
  const cv::Scalar dark(25, 25, 30);
  p.line(lash, depth, mix(id.skin, dark, 0.85), 0.0065);
  p.line(crease, depth, mix(id.skin, dark, 0.25), 0.004);
  if (st.lower_lid > 0.05) p.line(cheek, depth, mix(id.skin, dark, 0.45 * st.lower_lid), 0.004);
  Pts low;
  for (int k = 2; k <= n - 2; ++k) low.push_back(lower(-1 + 2.0 * k / n));
  p.line(low, depth, mix(id.skin, dark, 0.3), 0.003);
}

void paint_brow(Painter& p, const FaceIdentity& id, const FaceState& st, double side) {
  const double raise = st.brow_raise + id.rest_brow, inner = st.brow_inner + id.rest_inner;
  Pts top, bottom;
  const int n = 10;
  for (int k = 0; k <= n; ++k) {
    double s = static_cast<double>(k) / n;  // 0 inner end, 1 outer end
    double x = id.eye_dx - id.brow_len * 0.9 + 2.0 * id.brow_len * s;
    x -= st.brow_squeeze * 0.025 * (1 - s);
    double y = id.eye_y - id.brow_gap -
               (id.brow_arch + st.brow_arch * 0.018) * std::sin(kPi * (0.15 + 0.75 * s));
    y -= raise * 0.045 + inner * 0.04 * std::pow(1 - s, 1.4) - inner * 0.008 * s;
    double half = id.brow_thick * (1.15 - 0.6 * s) * 0.5;
    top.push_back({side * x, y - half});
    bottom.push_back({side * x, y + half});
  }
  Pts poly(top);
  poly.insert(poly.end(), bottom.rbegin(), bottom.rend());
  p.fill(poly, 0.5, mix(id.hair, cv::Scalar(20, 20, 20), 0.4));
}

void paint_nose_and_folds(Painter& p, const FaceIdentity& id, const FaceState& st) {
  const cv::Scalar dark(30, 30, 45);
  const double w = id.nose_w, ny = id.nose_y, wr = std::max(0.0, st.nose_wrinkle);
  p.line({{-0.012, id.eye_y + 0.03}, {-0.016, ny - 0.05}, {-0.02, ny - 0.02}}, 0.7,
         mix(id.skin, dark, 0.22), 0.004);
  const double flare = 1.0 + 0.35 * wr;
  for (double side : {-1.0, 1.0}) {
    p.ellipse({side * w * 0.5, ny + 0.004 - 0.008 * wr}, w * 0.26 * flare, w * 0.13 * flare, 0.85,
              mix(id.skin, dark, 0.7), side * 0.3);
  }
  p.line({{-w * 0.75, ny - 0.01 - 0.008 * wr},
          {-w * 0.3, ny + 0.014},
          {w * 0.3, ny + 0.014},
          {w * 0.75, ny - 0.01 - 0.008 * wr}},
         0.9, mix(id.skin, dark, 0.35), 0.004);
  if (wr > 0.15) {  // wrinkles across the bridge
    for (int k = 0; k < 3; ++k) {
      double y = id.eye_y + 0.025 + 0.012 * k;
      p.line({{-0.02, y + 0.003}, {0.0, y - 0.002}, {0.02, y + 0.003}}, 0.65,
             mix(id.skin, dark, 0.5 * wr), 0.0035);
    }
  }
  if (st.brow_squeeze > 0.3) {  // vertical frown lines between the brows
    double a = 0.55 * (st.brow_squeeze - 0.3);
    for (double side : {-1.0, 1.0}) {
      p.line({{side * 0.012, id.eye_y - id.brow_gap - 0.01},
              {side * 0.008, id.eye_y - id.brow_gap + 0.025}},
             0.55, mix(id.skin, dark, a), 0.0035);
    }
  }
  // Nasolabial folds deepen with smiles and upper-lip raising.
  double fold =
      0.12 + 0.45 * std::max(0.0, st.corner_up) + 0.35 * std::max(0.0, st.upper_lip) + 0.2 * wr;
  double mw = id.mouth_w * (1 + 0.3 * std::max(0.0, st.corner_up) + 0.4 * st.mouth_width);
  for (double side : {-1.0, 1.0}) {
    double cy = id.mouth_y - 0.05 * st.corner_up;
    p.line({{side * w * 0.95, ny - 0.012},
            {side * (w * 1.2 + 0.012), ny + 0.035},
            {side * (mw + 0.014), cy + 0.012}},
           0.55, mix(id.skin, dark, std::min(0.75, fold)), 0.004);
  }
}

void paint_mouth(Painter& p, const FaceIdentity& id, const FaceState& st) {
  const double corner = st.corner_up + id.rest_corner;
  const double round = std::max(0.0, st.mouth_round);
  double hw = id.mouth_w * (1 + 0.3 * std::max(0.0, corner) + 0.4 * st.mouth_width - 0.3 * round);
  const double open = 0.09 * std::max(0.0, st.mouth_open);
  const double press = std::clamp(st.lip_press, 0.0, 1.0);
  const double raise = 0.026 * std::max(0.0, st.upper_lip);
  const double pw = 0.8 - 0.35 * round;  // rounder opening for the surprise "O"
  const int n = 18;
  Pts ui, li, uo, lo;
  for (int k = 0; k <= n; ++k) {
    double u = -1 + 2.0 * k / n;
    double x = u * hw;
    double mid = id.mouth_y - 0.05 * corner * u * u - 0.01 * st.asym * (u * u) * (u > 0 ? 1 : -1);
    double f = std::pow(1 - u * u, pw);
    double yu = mid - open * 0.3 * f - raise * std::pow(1 - u * u, 0.6) * (1 + 0.8 * st.asym * u);
    double yl = mid + open * 0.7 * f;
    double bow = 1.0 - 0.3 * std::exp(-u * u / 0.03);
    ui.push_back({x, yu});
    li.push_back({x, yl});
    uo.push_back({x, yu - id.lip_up * (1 - 0.7 * press) * std::sqrt(1 - u * u) * bow});
    lo.push_back({x, yl + id.lip_lo * (1 - 0.7 * press) * std::sqrt(1 - u * u)});
  }
  const double depth = 0.6;
  Pts lips(uo);
  lips.insert(lips.end(), lo.rbegin(), lo.rend());
  p.fill(lips, depth, id.lip);
  double gap = 0;
  for (int k = 0; k <= n; ++k) gap = std::max(gap, li[k].y - ui[k].y);
  if (gap > 0.003) {
    Pts inner(ui);
    inner.insert(inner.end(), li.rbegin(), li.rend());
    p.fill(inner, depth, cv::Scalar(40, 30, 60));
    // Upper teeth under the upper lip, more of them when the lip is raised or the mouth smiles.
    double th =
        0.008 + 0.012 * std::max(0.0, st.upper_lip) + 0.008 * std::max(0.0, corner) - 0.006 * round;
    Pts teeth;
    int a = n / 5, b = n - n / 5;
    for (int k = a; k <= b; ++k) teeth.push_back(ui[k]);
    for (int k = b; k >= a; --k) teeth.push_back({ui[k].x, std::min(ui[k].y + th, li[k].y)});
    p.fill(teeth, depth, cv::Scalar(222, 228, 232));
    if (st.mouth_width > 0.3 && gap > 0.02) {  // lower teeth of a stretched (fearful) mouth
      Pts low;
      for (int k = a; k <= b; ++k) low.push_back(li[k]);
      for (int k = b; k >= a; --k) low.push_back({li[k].x, std::max(li[k].y - 0.007, ui[k].y)});
      p.fill(low, depth, cv::Scalar(205, 212, 216));
    }
  }
  p.line(ui, depth, mix(id.lip, cv::Scalar(20, 15, 30), 0.6), 0.004);
}

}  // namespace

void paint_face(const FaceIdentity& id, const FaceState& st, cv::Mat& canvas) {
  Painter p(canvas, st);
  const cv::Scalar shade(0, 0, 0);
  // Shoulders and neck move less than the head: paint them with a damped pose.
  FaceState body = st;
  body.head_yaw *= 0.3;
  body.head_pitch *= 0.3;
  body.roll *= 0.3;
  Painter pb(canvas, body);
  pb.ellipse({0, 0.6}, 0.46, 0.17, 0, id.clothes);
  pb.fill({{-id.face_a * 0.42, 0.2},
           {id.face_a * 0.42, 0.2},
           {id.face_a * 0.47, 0.47},
           {-id.face_a * 0.47, 0.47}},
          0, mix(id.skin, shade, 0.18));
  if (id.hair_style == 1) {  // long hair behind the head
    Pts back;
    for (int k = 0; k < 30; ++k) {
      cv::Point2d o = outline_point(id, 2 * kPi * k / 30, id.hair_thickness + 0.02);
      if (o.y > 0) {
        o.y = std::min(o.y * 1.35, id.face_b * 1.05);
        o.x *= 1.15;
      }
      back.push_back(o);
    }
    p.fill(back, 0, mix(id.hair, shade, 0.15));
  }
  for (double side : {-1.0, 1.0}) {
    p.ellipse({side * id.face_a * 0.98, id.eye_y + 0.035}, 0.028, 0.055, 0,
              mix(id.skin, shade, 0.1));
  }
  Pts face;
  for (int k = 0; k < 72; ++k) face.push_back(outline_point(id, 2 * kPi * k / 72));
  p.fill(face, 0, id.skin);
  paint_hair_top(p, id);
  for (double side : {-1.0, 1.0}) paint_eye(p, id, st, side);
  for (double side : {-1.0, 1.0}) paint_brow(p, id, st, side);
  paint_nose_and_folds(p, id, st);
  paint_mouth(p, id, st);
  if (id.glasses) {
    for (double side : {-1.0, 1.0}) {
      Pts rim;
      for (int k = 0; k < 24; ++k) {
        double t = 2 * kPi * k / 24;
        rim.push_back({side * id.eye_dx + id.eye_w * 1.45 * std::cos(t),
                       id.eye_y + 0.004 + id.eye_w * 0.95 * std::sin(t)});
      }
      p.line(rim, 0.5, id.glasses_color, 0.006, true);
    }
    p.line({{-id.eye_dx + id.eye_w * 1.45, id.eye_y}, {id.eye_dx - id.eye_w * 1.45, id.eye_y}},
           0.55, id.glasses_color, 0.006);
  }
}

}  // namespace dfer::data::detail
