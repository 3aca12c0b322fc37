// The report page: one self-contained HTML file (inline CSS and SVG, no script, a
// Content-Security-Policy that refuses every external resource), built from a read run.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "dfer/train/report.h"

namespace dfer::train {

namespace {

// Inline, so the file opens anywhere offline. The figures scale with the page width; the table
// and config styles keep long runs and long configs readable.
const char* const kStyle = R"(
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #222; background: #f6f7f9;
  margin: 0 auto; max-width: 1500px; padding: 16px 24px 40px; }
h1 { font-size: 1.5em; margin: 0.4em 0 0.2em; }
h2 { font-size: 1.15em; margin: 1.6em 0 0.6em; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p.sub { color: #555; margin: 0 0 1em; }
.figs { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 16px; }
figure { margin: 0; background: #fff; border: 1px solid #e2e2e2; border-radius: 6px; padding: 6px; }
figure svg { width: 100%; height: auto; display: block; }
table { border-collapse: collapse; background: #fff; font-size: 0.92em; }
th, td { border: 1px solid #e2e2e2; padding: 4px 10px; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f0f2f5; }
.cards { display: flex; gap: 12px; margin-bottom: 12px; }
.card { background: #fff; border: 1px solid #e2e2e2; border-radius: 6px; padding: 8px 16px; }
.card span { display: block; color: #666; font-size: 0.85em; }
.card b { font-size: 1.5em; font-variant-numeric: tabular-nums; }
details { margin-top: 10px; }
summary { cursor: pointer; color: #345; }
pre { background: #fff; border: 1px solid #e2e2e2; border-radius: 6px; padding: 10px; overflow: auto;
  max-height: 560px; font-size: 0.85em; line-height: 1.35; }
footer { margin-top: 2em; color: #777; font-size: 0.85em; }
)";

std::string duration(double s) {
  if (!std::isfinite(s)) return "-";
  if (s < 120) return fmt::format("{:.2f} s", s);
  const auto total = static_cast<int64_t>(std::lround(s));
  if (total < 3600) return fmt::format("{} min {:02} s", total / 60, total % 60);
  return fmt::format("{} h {:02} min {:02} s", total / 3600, (total / 60) % 60, total % 60);
}

std::string cell(const std::string& v, bool numeric = false) {
  return std::string(numeric ? "<td class=\"n\">" : "<td>") + html_escape(v) + "</td>";
}

std::vector<double> finite(const std::vector<double>& v) {
  std::vector<double> out;
  for (double x : v)
    if (std::isfinite(x)) out.push_back(x);
  return out;
}

std::string figures_html(const std::vector<Figure>& figs) {
  std::string out = "<div class=\"figs\">\n";
  for (const auto& f : figs) out += "<figure>\n" + figure_svg(f) + "\n</figure>\n";
  return out + "</div>\n";
}

std::string final_html(const RunData& run) {
  if (!run.has_final_results)
    return "<p>No <code>final_results.json</code>: " +
           std::string(run.kind == "pre-training"
                           ? "pre-training has no final evaluation; the curves are the report."
                           : "the run has not reached its final evaluation yet.") +
           "</p>\n";
  // The numbers a reader looks for first, above the full list.
  const std::pair<const char*, const char*> headline[] = {
      {"final_uar", "UAR"},
      {"final_war", "WAR"},
      {"final_video_uar", "UAR per video"},
      {"final_mean_angle_error", "angular error (deg)"},
      {"final_video_mean_angle_error", "angular error per video (deg)"}};
  std::string out = "<div class=\"cards\">";
  for (const auto& [key, label] : headline)
    for (const auto& [k, v] : run.final_scalars)
      if (k == key)
        out += "<div class=\"card\"><span>" + std::string(label) + "</span><b>" + html_escape(v) +
               "</b></div>";
  // The rest folded: the cards above are what most readers want, the curves come next.
  out += fmt::format(
      "</div>\n<details><summary>all {} fields of final_results.json</summary>\n"
      "<table id=\"final-results\">\n<tr><th>field</th><th>value</th></tr>\n",
      run.final_scalars.size());
  for (const auto& [k, v] : run.final_scalars) out += "<tr>" + cell(k) + cell(v, true) + "</tr>\n";
  return out + "</table>\n</details>\n";
}

std::string timing_html(const MetricsTable& m) {
  const auto times = finite(m.column("epoch_time_s"));
  const auto rates = finite(m.column("train_clips_per_s"));
  const auto waits = finite(m.column("train_data_wait_s"));
  auto sum = [](const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); };
  auto median = [](std::vector<double> v) -> double {
    if (v.empty()) return std::nan("");
    std::sort(v.begin(), v.end());
    const size_t h = v.size() / 2;
    return v.size() % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
  };
  std::string out = "<table id=\"timing-summary\">\n";
  auto row = [&out](const std::string& k, const std::string& v) {
    out += "<tr><th>" + html_escape(k) + "</th>" + cell(v, true) + "</tr>\n";
  };
  row("epochs in metrics.jsonl", std::to_string(m.epochs.size()));
  if (!times.empty()) {
    row("total epoch time (training + validation)", duration(sum(times)));
    row("per epoch: mean", duration(sum(times) / times.size()));
    row("per epoch: median", duration(median(times)));
    row("per epoch: fastest / slowest",
        duration(*std::min_element(times.begin(), times.end())) + " / " +
            duration(*std::max_element(times.begin(), times.end())));
  }
  if (!rates.empty()) {
    row("training clips/s: mean", fmt::format("{:.1f}", sum(rates) / rates.size()));
    row("training clips/s: median", fmt::format("{:.1f}", median(rates)));
  }
  if (!waits.empty()) row("training time waiting for data (total)", duration(sum(waits)));
  out += "</table>\n";

  // Every epoch, folded: long runs would otherwise bury the rest of the page.
  out +=
      "<details><summary>per epoch</summary>\n<table id=\"timing-epochs\">\n"
      "<tr><th>epoch</th><th>time</th><th>training clips/s</th><th>data wait</th></tr>\n";
  const auto& t = m.column("epoch_time_s");
  const auto& r = m.column("train_clips_per_s");
  const auto& w = m.column("train_data_wait_s");
  auto at = [](const std::vector<double>& v, size_t i) {
    return i < v.size() ? v[i] : std::nan("");
  };
  for (size_t i = 0; i < m.epochs.size(); ++i) {
    const double rate = at(r, i);
    out += "<tr>" + cell(fmt::format("{:.0f}", m.epochs[i]), true) +
           cell(duration(at(t, i)), true) +
           cell(std::isfinite(rate) ? fmt::format("{:.1f}", rate) : "-", true) +
           cell(duration(at(w, i)), true) + "</tr>\n";
  }
  return out + "</table>\n</details>\n";
}

}  // namespace

std::string report_html(const RunData& run) {
  const std::string name = html_escape(run.name);
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      // No script, no fetches: the page must open offline and cannot leak anything when shared.
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>dfer report: " +
      name + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  out += "<h1>dfer report: " + name + "</h1>\n<p class=\"sub\">" + html_escape(run.kind);
  if (!run.model_name.empty()) out += " &middot; model " + html_escape(run.model_name);
  if (!run.dataset_name.empty()) out += " &middot; dataset " + html_escape(run.dataset_name);
  out += fmt::format(" &middot; {} epoch{}", run.metrics.epochs.size(),
                     run.metrics.epochs.size() == 1 ? "" : "s");
  out += "</p>\n";

  out += "<section id=\"final\">\n<h2>Final results</h2>\n" + final_html(run) + "</section>\n";
  out += "<section id=\"curves\">\n<h2>Training curves</h2>\n" +
         figures_html(metric_figures(run.metrics)) + "</section>\n";
  if (run.confusion) {
    out +=
        "<section id=\"confusion-matrix\">\n<h2>Final test: confusion and recall</h2>\n"
        "<p class=\"sub\">Rows are the true classes, columns the predicted ones; cells show "
        "counts, shaded by the share of their row.</p>\n" +
        figures_html({confusion_figure(*run.confusion), recall_figure(*run.confusion)}) +
        "</section>\n";
  }
  out += "<section id=\"timing\">\n<h2>Timing</h2>\n" + timing_html(run.metrics);
  if (!run.log_first_time.empty())
    out += "<p class=\"sub\">train.log: first line " + html_escape(run.log_first_time) +
           ", last line " + html_escape(run.log_last_time) + "</p>\n";
  out += "</section>\n";
  out += "<section id=\"config\">\n<h2>Effective config (config.yaml)</h2>\n<pre>" +
         html_escape(run.config_yaml) + "</pre>\n</section>\n";
  out +=
      "<footer>Written by dfer-report from the run folder's metrics.jsonl, final_results.json, "
      "config.yaml and train.log.</footer>\n</body>\n</html>\n";
  return out;
}

}  // namespace dfer::train
