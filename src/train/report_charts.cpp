// The report's line charts (one per metric group of metrics.jsonl) and the shared drawing
// helpers of report_draw.h.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "dfer/train/report.h"
#include "report_draw.h"

namespace dfer::train {

namespace report_draw {

Shape polyline(std::vector<Point> pts, Rgb color, double width, bool dashed) {
  Shape s;
  s.kind = Shape::Kind::kPolyline;
  s.points = std::move(pts);
  s.stroke = color;
  s.stroke_width = width;
  s.dashed = dashed;
  return s;
}

Shape line(Point a, Point b, Rgb color, double width, bool dashed) {
  return polyline({a, b}, color, width, dashed);
}

Shape rect(Point top_left, Point bottom_right, std::optional<Rgb> fill, std::optional<Rgb> stroke,
           double stroke_width) {
  Shape s;
  s.kind = Shape::Kind::kRect;
  s.points = {top_left, bottom_right};
  s.fill = fill;
  s.stroke = stroke;
  s.stroke_width = stroke_width;
  return s;
}

Shape circle(Point centre, double radius, Rgb fill) {
  Shape s;
  s.kind = Shape::Kind::kCircle;
  s.points = {centre};
  s.radius = radius;
  s.fill = fill;
  return s;
}

Shape text(Point at, std::string str, double font_px, Shape::Anchor anchor, Rgb color, bool bold,
           bool vertical) {
  Shape s;
  s.kind = Shape::Kind::kText;
  s.points = {at};
  s.text = std::move(str);
  s.font_px = font_px;
  s.anchor = anchor;
  s.fill = color;
  s.bold = bold;
  s.vertical = vertical;
  return s;
}

Figure titled_figure(std::string id, std::string title) {
  Figure f;
  f.id = std::move(id);
  f.title = std::move(title);
  f.shapes.push_back(text({f.width / 2, 28}, f.title, 18, Shape::Anchor::kMiddle, kInk, true));
  return f;
}

double text_width(const std::string& s, double font_px) {
  size_t chars = 0;  // UTF-8 code points, not bytes
  for (unsigned char c : s) chars += (c & 0xC0) != 0x80;
  return 0.6 * font_px * static_cast<double>(chars);
}

double nice_step(double span, int target) {
  if (!(span > 0)) return 1;
  const double raw = span / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

std::vector<double> ticks_in(double lo, double hi, double step) {
  std::vector<double> out;
  const double eps = step * 1e-6;
  for (double k = std::ceil((lo - eps) / step); k * step <= hi + eps; k += 1) {
    const double v = k * step;
    out.push_back(std::abs(v) < eps ? 0.0 : v);  // no "-0"
  }
  return out;
}

std::string tick_label(double v, double step, double max_abs) {
  if (v == 0) return "0";
  if (max_abs > 0 && (max_abs < 1e-2 || max_abs >= 1e5)) {
    const int digits = std::max(
        0, static_cast<int>(std::floor(std::log10(max_abs)) - std::floor(std::log10(step))));
    return fmt::format("{:.{}e}", v, digits);
  }
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  return fmt::format("{:.{}f}", v, decimals);
}

}  // namespace report_draw

namespace {

using namespace report_draw;

struct SeriesSpec {
  std::string field, label;
  Rgb color;
  bool dashed;
};

struct Group {
  const char* id;
  const char* title;
  const char* y_label;
  const char* suffix;  // train_<suffix>, val_<suffix>, val_video_<suffix>
  // What the values can be: the axis never shows impossible ones (a negative recall when every
  // epoch's UAR is 0), and the learning rate is read against zero (warm-up starts there).
  double lowest = -INFINITY, highest = INFINITY;
  bool from_zero = false;
};

// Page order; a group appears when metrics.jsonl holds any of its fields.
const Group kGroups[] = {
    {"plot-loss", "Loss", "loss", "loss"},
    {"plot-lr", "Learning rate", "lr (mean over the epoch)", "lr", 0, INFINITY, true},
    {"plot-uar", "UAR (unweighted average recall)", "UAR", "uar", 0, 1},
    {"plot-war", "WAR (weighted average recall)", "WAR", "war", 0, 1},
    {"plot-angle", "Angular error", "degrees", "mean_angle_error", 0},
};

std::vector<SeriesSpec> series_of(const Group& g) {
  const std::string s = g.suffix;
  std::vector<SeriesSpec> out = {{"train_" + s, "train", kBlue, false},
                                 {"val_" + s, "val", kRed, false},
                                 {"val_video_" + s, "val, per video", kGreen, false}};
  // Gaze runs also log the error of always predicting the mean gaze: the bar to beat.
  if (s == "mean_angle_error")
    out.push_back({"val_baseline_angle_error", "val, mean-gaze baseline", kGrey, true});
  return out;
}

// Plot area of the 720 x 480 canvas.
constexpr double kLeft = 84, kRight = 700, kTop = 70, kBottom = 416;

Figure line_chart(const Group& g, const MetricsTable& m) {
  std::vector<SeriesSpec> present;
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& s : series_of(g)) {
    bool any = false;
    for (double v : m.column(s.field)) {
      if (!std::isfinite(v)) continue;
      any = true;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    if (any) present.push_back(s);
  }
  Figure f;
  if (present.empty() || m.epochs.empty()) return f;  // no id: the caller skips it
  f = titled_figure(g.id, g.title);

  // y: the data range widened to whole ticks; x: the epochs, integer ticks.
  const double data_lo = lo, data_hi = hi;
  if (hi - lo <= std::abs(hi) * 1e-9) {
    const double pad = lo != 0 ? std::abs(lo) * 0.1 : 1.0;
    lo -= pad;
    hi += pad;
  }
  if (g.from_zero) lo = std::min(lo, 0.0);
  if (data_lo >= g.lowest) lo = std::max(lo, g.lowest);  // data outside: show it as it is
  if (data_hi <= g.highest) hi = std::min(hi, g.highest);
  const double ystep = nice_step(hi - lo, 5);
  const double y0 = std::floor(lo / ystep + 1e-9) * ystep,
               y1 = std::ceil(hi / ystep - 1e-9) * ystep;
  double x0 = m.epochs.front(), x1 = m.epochs.back();
  if (x1 - x0 < 1) {
    x0 -= 0.5;
    x1 += 0.5;
  }
  const double xstep = std::max(1.0, nice_step(x1 - x0, 8));
  auto px = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * (kRight - kLeft); };
  auto py = [&](double y) { return kBottom - (y - y0) / (y1 - y0) * (kBottom - kTop); };

  const double max_abs = std::max(std::abs(y0), std::abs(y1));
  for (double y : ticks_in(y0, y1, ystep)) {
    f.shapes.push_back(line({kLeft, py(y)}, {kRight, py(y)}, kGrid));
    f.shapes.push_back(text({kLeft - 8, py(y) + 4}, tick_label(y, ystep, max_abs), 12,
                            Shape::Anchor::kEnd, kMuted));
  }
  for (double x : ticks_in(x0, x1, xstep)) {
    f.shapes.push_back(line({px(x), kBottom}, {px(x), kBottom + 5}, kFrame));
    f.shapes.push_back(
        text({px(x), kBottom + 20}, fmt::format("{:.0f}", x), 12, Shape::Anchor::kMiddle, kMuted));
  }
  f.shapes.push_back(rect({kLeft, kTop}, {kRight, kBottom}, std::nullopt, kFrame));
  f.shapes.push_back(
      text({(kLeft + kRight) / 2, kBottom + 46}, "epoch", 13, Shape::Anchor::kMiddle, kInk));
  f.shapes.push_back(
      text({24, (kTop + kBottom) / 2}, g.y_label, 13, Shape::Anchor::kMiddle, kInk, false, true));

  // The series, split where a value is missing; dots on the points of short runs, where a line
  // alone would hide single epochs.
  const bool dots = m.epochs.size() <= 40;
  double legend_x = kLeft;
  for (const auto& s : present) {
    const auto& col = m.column(s.field);
    std::vector<Point> run;
    auto flush = [&] {
      if (run.size() > 1) f.shapes.push_back(polyline(run, s.color, 2, s.dashed));
      run.clear();
    };
    for (size_t i = 0; i < col.size(); ++i) {
      if (!std::isfinite(col[i])) {
        flush();
        continue;
      }
      const Point p{px(m.epochs[i]), py(col[i])};
      run.push_back(p);
      if (dots) f.shapes.push_back(circle(p, 3, s.color));
    }
    flush();
    f.shapes.push_back(line({legend_x, 52}, {legend_x + 22, 52}, s.color, 3, s.dashed));
    f.shapes.push_back(text({legend_x + 28, 56}, s.label, 12, Shape::Anchor::kStart, kInk));
    legend_x += 28 + text_width(s.label, 12) + 22;
  }
  return f;
}

}  // namespace

std::vector<Figure> metric_figures(const MetricsTable& metrics) {
  std::vector<Figure> out;
  for (const auto& g : kGroups) {
    auto f = line_chart(g, metrics);
    if (!f.id.empty()) out.push_back(std::move(f));
  }
  return out;
}

std::vector<Figure> report_figures(const RunData& run) {
  auto out = metric_figures(run.metrics);
  if (run.confusion) {
    out.push_back(confusion_figure(*run.confusion));
    out.push_back(recall_figure(*run.confusion));
  }
  return out;
}

}  // namespace dfer::train
