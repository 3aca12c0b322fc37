// Internal helpers of the report's figures (report_charts.cpp, report_confusion.cpp): shape
// builders, the shared palette, tick placement and labels, text width estimates.
#pragma once

#include <string>
#include <vector>

#include "dfer/train/report.h"

namespace dfer::train::report_draw {

inline constexpr Rgb kInk{34, 34, 34};
inline constexpr Rgb kMuted{102, 102, 102};
inline constexpr Rgb kGrid{226, 226, 226};
inline constexpr Rgb kFrame{153, 153, 153};
inline constexpr Rgb kWhite{255, 255, 255};
inline constexpr Rgb kBlue{31, 119, 180};
inline constexpr Rgb kRed{214, 39, 40};
inline constexpr Rgb kGreen{44, 160, 44};
inline constexpr Rgb kGrey{127, 127, 127};

Shape polyline(std::vector<Point> pts, Rgb color, double width = 1, bool dashed = false);
Shape line(Point a, Point b, Rgb color, double width = 1, bool dashed = false);
Shape rect(Point top_left, Point bottom_right, std::optional<Rgb> fill,
           std::optional<Rgb> stroke = std::nullopt, double stroke_width = 1);
Shape circle(Point centre, double radius, Rgb fill);
Shape text(Point at, std::string s, double font_px, Shape::Anchor anchor = Shape::Anchor::kStart,
           Rgb color = kInk, bool bold = false, bool vertical = false);

// The figure with its title drawn at the top.
Figure titled_figure(std::string id, std::string title);

// A width estimate for laying out labels (both back ends use sans fonts about this wide).
double text_width(const std::string& s, double font_px);

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `target` intervals over span.
double nice_step(double span, int target);

// Tick values: multiples of `step` within [lo, hi] (with a little tolerance at both ends).
std::vector<double> ticks_in(double lo, double hi, double step);

// A tick label that tells neighbouring ticks apart: fixed decimals from the step, scientific
// notation for very small or large magnitudes (learning rates).
std::string tick_label(double v, double step, double max_abs);

}  // namespace dfer::train::report_draw
