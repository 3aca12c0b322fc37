// Run reports (dfer-report): a run folder (metrics.jsonl, final_results.json, config.yaml,
// train.log)
// -> one self-contained HTML page with inline SVG plots, and the same plots as PNG files.
//
// The plots are built once as a small display list (Figure: lines, rectangles, circles, text in
// a fixed logical canvas) that two back ends draw: SVG for the page, OpenCV for the PNGs, so the
// figures of a paper and the page cannot drift apart. Torch-free.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dfer::train {

// ---- the run, as read from its folder (report_read.cpp) ----

// metrics.jsonl as columns: one entry per epoch line, ordered by epoch (a repeated epoch keeps its
// last line). A line that lacks a field holds NaN there.
struct MetricsTable {
  std::vector<double> epochs;
  std::map<std::string, std::vector<double>> columns;  // numeric fields only, by name

  bool has(const std::string& field) const;
  // The column, or an empty vector when no line has the field.
  const std::vector<double>& column(const std::string& field) const;
};

// The final evaluation's confusion matrix (fine-tuning and combine runs).
struct ConfusionData {
  std::vector<std::string> class_names;      // from final_results.json, else by dataset name
  std::vector<std::vector<int64_t>> counts;  // [true][predicted]
  std::vector<double> recall;                // per class (final_per_class_recall or recomputed)
};

struct RunData {
  std::filesystem::path dir;
  std::string name;  // the folder's own name (never the full path: pages get shared)
  std::string kind;  // "pre-training", "fine-tuning", "gaze", "combine"
  MetricsTable metrics;
  std::string config_yaml;  // config.yaml as written by the run
  std::string dataset_name, model_name;
  // final_results.json's scalar fields by name, formatted for display; empty when the run has no
  // final results (pre-training, or a run still in progress).
  std::vector<std::pair<std::string, std::string>> final_scalars;
  bool has_final_results = false;
  std::optional<ConfusionData> confusion;
  std::string log_first_time, log_last_time;  // timestamps of train.log's first and last lines
};

// Reads a run folder. metrics.jsonl and config.yaml are required, final_results.json and train.log
// are optional. A missing or malformed file throws dfer::Error naming the file (and the line for
// metrics.jsonl, final_results.json and config.yaml).
RunData read_run(const std::filesystem::path& dir);

// ---- the plots (report_charts.cpp, report_confusion.cpp) ----

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

struct Point {
  double x = 0, y = 0;
};

// One drawing primitive in the figure's logical canvas (y grows downwards, as in SVG).
struct Shape {
  enum class Kind { kPolyline, kRect, kCircle, kText };
  enum class Anchor { kStart, kMiddle, kEnd };
  Kind kind = Kind::kPolyline;
  std::vector<Point> points;  // polyline: the vertices; rect: top-left, bottom-right; circle and
                              // text: the centre / the anchor point on the baseline
  std::optional<Rgb> stroke, fill;
  double stroke_width = 1;
  bool dashed = false;
  double radius = 0;  // circle
  std::string text;   // text (UTF-8, unescaped)
  double font_px = 12;
  Anchor anchor = Anchor::kStart;
  bool bold = false;
  bool vertical = false;  // text turned 90 degrees counter-clockwise (a y-axis title)
};

struct Figure {
  std::string id;     // "plot-loss", "confusion", ...: the SVG id and the PNG file name
  std::string title;  // drawn at the top of the figure
  double width = 720, height = 480;
  std::vector<Shape> shapes;
};

// One line chart per metric group found in metrics.jsonl, in page order: loss, lr, UAR, WAR,
// angular error. Each holds the train and val series the run has (val per video, and the
// mean-gaze baseline, where written), epochs on x.
std::vector<Figure> metric_figures(const MetricsTable& metrics);

// The confusion heat map (counts in the cells, shaded by row fraction) and the per-class recall
// bars.
Figure confusion_figure(const ConfusionData& c);
Figure recall_figure(const ConfusionData& c);

// Every figure of the run's report, in page order.
std::vector<Figure> report_figures(const RunData& run);

// ---- output (report_svg.cpp, report_html.cpp, report_png.cpp) ----

// Text for HTML and SVG content and attributes: & < > " ' escaped.
std::string html_escape(std::string_view s);

// The figure as an inline <svg> element (no XML prolog; no external references).
std::string figure_svg(const Figure& f);

// The whole page: inline CSS, no script, a Content-Security-Policy that forbids every external
// resource.
std::string report_html(const RunData& run);

// Draws the figure with OpenCV at `width` pixels wide (height in proportion), white background.
// Returns an 8-bit BGR image as encoded PNG bytes.
std::vector<uint8_t> figure_png(const Figure& f, int width = 1200);

// Writes one PNG per figure into `dir` (created), named <figure id>.png; returns the paths.
std::vector<std::filesystem::path> write_report_pngs(const RunData& run,
                                                     const std::filesystem::path& dir,
                                                     int width = 1200);

}  // namespace dfer::train
