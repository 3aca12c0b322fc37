// The report's final-evaluation figures: the confusion heat map with the count in each cell, and
// the per-class recall bars with the UAR marked.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "dfer/train/report.h"
#include "report_draw.h"

namespace dfer::train {

namespace {

using namespace report_draw;

// Matplotlib's "Blues" end points and middle: light cells stay readable with dark text.
Rgb blues(double t) {
  t = std::clamp(t, 0.0, 1.0);
  const Rgb a{247, 251, 255}, b{107, 174, 214}, c{8, 48, 107};
  const Rgb& p = t < 0.5 ? a : b;
  const Rgb& q = t < 0.5 ? b : c;
  const double u = t < 0.5 ? t * 2 : t * 2 - 1;
  auto mix = [u](uint8_t x, uint8_t y) {
    return static_cast<uint8_t>(std::lround(x + (static_cast<double>(y) - x) * u));
  };
  return {mix(p.r, q.r), mix(p.g, q.g), mix(p.b, q.b)};
}

double longest_name(const ConfusionData& c, double font_px) {
  double w = 0;
  for (const auto& n : c.class_names) w = std::max(w, text_width(n, font_px));
  return w;
}

}  // namespace

Figure confusion_figure(const ConfusionData& c) {
  Figure f = titled_figure("confusion", "Confusion matrix (final test)");
  const size_t n = c.counts.size();
  if (n == 0) return f;
  const double label_px = n > 12 ? 10 : 12;
  const double names = std::min(140.0, longest_name(c, label_px));
  // Row names on the left, column names turned upright below, the axis titles outside them.
  const double avail_w = f.width - (names + 48) - 24;
  const double avail_h = f.height - 56 - (names + 44);
  const double cell = std::min(64.0, std::min(avail_w, avail_h) / static_cast<double>(n));
  const double grid = cell * static_cast<double>(n);
  const double left = names + 48 + (avail_w - grid) / 2, top = 56;
  const double count_px = std::clamp(cell * 0.32, 7.0, 14.0);

  for (size_t i = 0; i < n; ++i) {
    int64_t row_total = 0;
    for (int64_t v : c.counts[i]) row_total += v;
    for (size_t j = 0; j < n; ++j) {
      const int64_t v = c.counts[i][j];
      // Shaded by the share of the true class, so rare classes are as visible as frequent ones.
      const double share = row_total > 0 ? static_cast<double>(v) / row_total : 0.0;
      const Point tl{left + cell * j, top + cell * i};
      f.shapes.push_back(rect(tl, {tl.x + cell, tl.y + cell}, blues(share), kWhite));
      f.shapes.push_back(text({tl.x + cell / 2, tl.y + cell / 2 + count_px * 0.36},
                              std::to_string(v), count_px, Shape::Anchor::kMiddle,
                              share > 0.55 ? kWhite : kInk, i == j));
    }
  }
  f.shapes.push_back(rect({left, top}, {left + grid, top + grid}, std::nullopt, kFrame));
  for (size_t k = 0; k < n; ++k) {
    const std::string& name = k < c.class_names.size() ? c.class_names[k] : std::to_string(k);
    const double mid = cell * (static_cast<double>(k) + 0.5);
    f.shapes.push_back(
        text({left - 6, top + mid + label_px * 0.36}, name, label_px, Shape::Anchor::kEnd, kInk));
    f.shapes.push_back(text({left + mid + label_px * 0.36, top + grid + 6}, name, label_px,
                            Shape::Anchor::kEnd, kInk, false, true));
  }
  f.shapes.push_back(text({left - names - 22, top + grid / 2}, "true class", 13,
                          Shape::Anchor::kMiddle, kInk, false, true));
  f.shapes.push_back(text({left + grid / 2, top + grid + names + 30}, "predicted class", 13,
                          Shape::Anchor::kMiddle, kInk));
  return f;
}

Figure recall_figure(const ConfusionData& c) {
  Figure f = titled_figure("recall", "Per-class recall (final test)");
  const size_t n = c.recall.size();
  if (n == 0) return f;
  const double label_px = n > 12 ? 10 : 12;
  const double left = std::min(160.0, longest_name(c, label_px)) + 24, right = f.width - 60;
  const double top = 66, bottom = f.height - 56;
  const double row = (bottom - top) / static_cast<double>(n);
  const double bar = std::min(row * 0.7, 36.0);
  auto px = [&](double v) { return left + std::clamp(v, 0.0, 1.0) * (right - left); };

  for (double v : ticks_in(0, 1, 0.2)) {
    f.shapes.push_back(line({px(v), top}, {px(v), bottom}, kGrid));
    f.shapes.push_back(
        text({px(v), bottom + 18}, fmt::format("{:.1f}", v), 12, Shape::Anchor::kMiddle, kMuted));
  }
  f.shapes.push_back(
      text({(left + right) / 2, bottom + 42}, "recall", 13, Shape::Anchor::kMiddle, kInk));
  // UAR as the training computes it: the mean over classes present in the labels.
  double sum = 0;
  int present = 0;
  for (size_t k = 0; k < n; ++k) {
    const double y = top + row * (static_cast<double>(k) + 0.5);
    const double v = c.recall[k];
    const std::string& name = k < c.class_names.size() ? c.class_names[k] : std::to_string(k);
    f.shapes.push_back(
        text({left - 8, y + label_px * 0.36}, name, label_px, Shape::Anchor::kEnd, kInk));
    f.shapes.push_back(rect({left, y - bar / 2}, {px(v), y + bar / 2}, kBlue));
    f.shapes.push_back(
        text({px(v) + 6, y + 4}, fmt::format("{:.2f}", v), 11, Shape::Anchor::kStart, kInk));
    int64_t total = 0;
    if (k < c.counts.size())
      for (int64_t x : c.counts[k]) total += x;
    if (total > 0 || c.counts.empty()) {
      sum += v;
      ++present;
    }
  }
  f.shapes.push_back(line({left, top}, {left, bottom}, kFrame));
  if (present > 0) {
    const double uar = sum / present;
    f.shapes.push_back(line({px(uar), top - 6}, {px(uar), bottom}, kRed, 1.5, true));
    f.shapes.push_back(text({px(uar), top - 10}, fmt::format("UAR {:.4f}", uar), 12,
                            Shape::Anchor::kMiddle, kRed));
  }
  return f;
}

}  // namespace dfer::train
