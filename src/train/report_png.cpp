// The PNG back end of the report's figures: the same display list as the SVG, drawn with
// OpenCV (anti-aliased lines, Hershey text), scaled to a paper figure's size.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "dfer/io/atomic_file.h"
#include "dfer/train/report.h"
#include "dfer/util/error.h"

namespace fs = std::filesystem;

namespace dfer::train {

namespace {

constexpr int kShift = 4;  // OpenCV's fixed-point coordinates: 1/16 pixel
constexpr double kOne = 1 << kShift;
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

cv::Scalar bgr(Rgb c) {
  return cv::Scalar(c.b, c.g, c.r);
}

struct Canvas {
  cv::Mat img;
  double scale = 1;

  cv::Point at(Point p) const {
    return {static_cast<int>(std::lround(p.x * scale * kOne)),
            static_cast<int>(std::lround(p.y * scale * kOne))};
  }
  int px(double v) const { return std::max(1, static_cast<int>(std::lround(v * scale))); }
};

// Hershey fonts cover ASCII only: any other code point (a class name in another script) is
// drawn as '?'. The SVG keeps the real text.
std::string ascii(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x80)
      out += static_cast<char>(c);
    else if ((c & 0xC0) != 0x80)
      out += '?';
  }
  return out;
}

void draw_dashed(Canvas& cv_, const std::vector<Point>& pts, const cv::Scalar& color, int width) {
  const double on = 6, off = 4;  // logical units, as the SVG's stroke-dasharray
  double phase = 0;              // distance into the current on+off period
  for (size_t i = 1; i < pts.size(); ++i) {
    const Point a = pts[i - 1], b = pts[i];
    const double len = std::hypot(b.x - a.x, b.y - a.y);
    double d = 0;
    while (d < len) {
      const bool drawing = phase < on;
      const double step = std::min(len - d, (drawing ? on : on + off) - phase);
      if (drawing) {
        const Point p{a.x + (b.x - a.x) * d / len, a.y + (b.y - a.y) * d / len};
        const Point q{a.x + (b.x - a.x) * (d + step) / len, a.y + (b.y - a.y) * (d + step) / len};
        cv::line(cv_.img, cv_.at(p), cv_.at(q), color, width, cv::LINE_AA, kShift);
      }
      d += step;
      phase = std::fmod(phase + step, on + off);
    }
  }
}

void draw_text(Canvas& c, const Shape& s) {
  const std::string t = ascii(s.text);
  if (t.empty()) return;
  // Font scale from the cap height: SVG text of font_px has capitals about 0.72 font_px tall.
  int base = 0;
  const int thick = std::max(1, static_cast<int>(std::lround(s.font_px * c.scale / 15))) + s.bold;
  const double cap = cv::getTextSize("H", kFont, 1.0, thick, &base).height;
  const double font_scale = 0.72 * s.font_px * c.scale / cap;
  const cv::Size size = cv::getTextSize(t, kFont, font_scale, thick, &base);
  const double shift = s.anchor == Shape::Anchor::kMiddle ? size.width / 2.0
                       : s.anchor == Shape::Anchor::kEnd  ? size.width
                                                          : 0.0;
  const cv::Scalar color = bgr(s.fill.value_or(Rgb{}));
  const double x = s.points[0].x * c.scale, y = s.points[0].y * c.scale;
  if (!s.vertical) {
    cv::putText(c.img, t,
                {static_cast<int>(std::lround(x - shift)), static_cast<int>(std::lround(y))}, kFont,
                font_scale, color, thick, cv::LINE_AA);
    return;
  }
  // putText draws horizontally only: the text goes into a coverage mask that is turned a quarter
  // counter-clockwise and blended in (baseline row -> column, start of the text -> bottom).
  const int pad = thick + 2;
  cv::Mat mask = cv::Mat::zeros(size.height + base + 2 * pad, size.width + 2 * pad, CV_8UC1);
  const int baseline_row = pad + size.height;
  cv::putText(mask, t, {pad, baseline_row}, kFont, font_scale, cv::Scalar(255), thick, cv::LINE_AA);
  cv::Mat turned;
  cv::rotate(mask, turned, cv::ROTATE_90_COUNTERCLOCKWISE);
  const int left = static_cast<int>(std::lround(x)) - baseline_row;
  const int top = static_cast<int>(std::lround(y - (turned.rows - pad) + shift));
  for (int r = 0; r < turned.rows; ++r) {
    const int yy = top + r;
    if (yy < 0 || yy >= c.img.rows) continue;
    for (int q = 0; q < turned.cols; ++q) {
      const int xx = left + q;
      const uint8_t a = turned.at<uint8_t>(r, q);
      if (xx < 0 || xx >= c.img.cols || a == 0) continue;
      auto& px = c.img.at<cv::Vec3b>(yy, xx);
      for (int ch = 0; ch < 3; ++ch)
        px[ch] = cv::saturate_cast<uint8_t>(px[ch] + (color[ch] - px[ch]) * (a / 255.0));
    }
  }
}

void draw_shape(Canvas& c, const Shape& s) {
  switch (s.kind) {
    case Shape::Kind::kPolyline: {
      if (!s.stroke || s.points.size() < 2) return;
      const int w = c.px(s.stroke_width);
      if (s.dashed) {
        draw_dashed(c, s.points, bgr(*s.stroke), w);
        return;
      }
      std::vector<cv::Point> pts;
      for (const auto& p : s.points) pts.push_back(c.at(p));
      cv::polylines(c.img, pts, false, bgr(*s.stroke), w, cv::LINE_AA, kShift);
      return;
    }
    case Shape::Kind::kRect: {
      const cv::Point a = c.at(s.points[0]), b = c.at(s.points[1]);
      if (s.fill) cv::rectangle(c.img, a, b, bgr(*s.fill), cv::FILLED, cv::LINE_8, kShift);
      if (s.stroke)
        cv::rectangle(c.img, a, b, bgr(*s.stroke), c.px(s.stroke_width), cv::LINE_AA, kShift);
      return;
    }
    case Shape::Kind::kCircle:
      if (s.fill)
        cv::circle(c.img, c.at(s.points[0]),
                   static_cast<int>(std::lround(s.radius * c.scale * kOne)), bgr(*s.fill),
                   cv::FILLED, cv::LINE_AA, kShift);
      return;
    case Shape::Kind::kText:
      draw_text(c, s);
      return;
  }
}

}  // namespace

std::vector<uint8_t> figure_png(const Figure& f, int width) {
  if (width < 16) throw Error("report: PNG width must be at least 16 pixels");
  Canvas c;
  c.scale = width / f.width;
  const int height = static_cast<int>(std::lround(f.height * c.scale));
  c.img = cv::Mat(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  for (const auto& s : f.shapes) draw_shape(c, s);
  std::vector<uint8_t> png;
  if (!cv::imencode(".png", c.img, png)) throw Error("report: PNG encoding failed for " + f.id);
  return png;
}

std::vector<fs::path> write_report_pngs(const RunData& run, const fs::path& dir, int width) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir.string() + ": cannot create the PNG folder: " + ec.message());
  std::vector<fs::path> out;
  for (const auto& f : report_figures(run)) {
    const auto png = figure_png(f, width);
    const fs::path p = dir / (f.id + ".png");
    io::write_file_atomic(p.string(),
                          std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
    out.push_back(p);
  }
  return out;
}

}  // namespace dfer::train
