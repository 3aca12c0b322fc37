// dfer-report: run folders written by hand (fine-tuning, gaze, pre-training) -> the page holds one
// plot per metric and the confusion counts, text from the files is escaped, malformed files are
// named with their line, the PNGs decode at the asked size, and headless Chromium renders the page
// without a console message.
#include <catch2/catch.hpp>

#include <opencv2/imgcodecs.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <regex>
#include <sstream>

#include "dfer/train/report.h"
#include "dfer/util/error.h"
#include "support/fixtures.h"
#include "support/programs.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using dfer::test::write_file;

namespace {

const char* const kConfig =
    "model:\n  name: vit_base_dim512_no_depth_patch16_160\n  depth: 2\n"
    "data:\n  dataset_name: synth\n  task: classification\n  num_classes: 3\n"
    "wandb:\n  run_name: '<script>alert(1)</script> & \"friends\"'\n";

// Four epochs of a fine-tuning run: train loss/lr, val loss/UAR/WAR, timing.
std::string finetune_metrics() {
  std::string s;
  for (int e = 0; e < 4; ++e)
    s += "{\"epoch\":" + std::to_string(e) + ",\"epoch_time_s\":" + std::to_string(10 + e) +
         ",\"train_clips_per_s\":" + std::to_string(100 + 10 * e) +
         ",\"train_data_wait_s\":0.5,\"train_loss\":" + std::to_string(2.0 - 0.3 * e) +
         ",\"train_lr\":" + std::to_string(1e-4 * (e + 1)) +
         ",\"val_loss\":" + std::to_string(2.1 - 0.2 * e) +
         ",\"val_uar\":" + std::to_string(0.2 + 0.1 * e) +
         ",\"val_war\":" + std::to_string(0.25 + 0.1 * e) + "}\n";
  return s;
}

// Counts no other figure text can hold (axis ticks are decimals, names are words).
const int kCounts[3][3] = {{11, 2, 0}, {3, 17, 1}, {0, 4, 23}};

std::string final_results() {
  return R"({
  "class_names": ["Happy", "<b>Sad</b>", "Fear & \"Loathing\""],
  "final_confusion_matrix": [[11, 2, 0], [3, 17, 1], [0, 4, 23]],
  "final_per_class_recall": [0.8462, 0.8095, 0.8519],
  "final_uar": 0.8358,
  "final_war": 0.8361,
  "weights": "last-epoch model"
}
)";
}

fs::path finetune_run() {
  const auto dir = dfer::test::temp_dir("report_ft") / "ft-run";
  write_file(dir / "config.yaml", kConfig);
  write_file(dir / "metrics.jsonl", finetune_metrics());
  write_file(dir / "final_results.json", final_results());
  write_file(dir / "train.log",
             "[2026-01-02 03:04:05.678] [info] start\nno stamp\n"
             "[2026-01-02 04:05:06.789] [info] end\n");
  return dir;
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

// The <svg id="ID" ...>...</svg> element of the page.
std::string svg_of(const std::string& html, const std::string& id) {
  const auto start = html.find("<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"" + id + "\"");
  REQUIRE(start != std::string::npos);
  const auto end = html.find("</svg>", start);
  REQUIRE(end != std::string::npos);
  return html.substr(start, end - start);
}

// The contents of the figure's <text> elements, in drawing order.
std::vector<std::string> texts_of(const std::string& svg) {
  std::vector<std::string> out;
  const std::regex re("<text[^>]*>([^<]*)</text>");
  for (std::sregex_iterator it(svg.begin(), svg.end(), re), end; it != end; ++it)
    out.push_back((*it)[1]);
  return out;
}

std::string error_of(const fs::path& dir) {
  try {
    dfer::train::read_run(dir);
  } catch (const dfer::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("report of a fine-tuning run: one plot per metric, the confusion counts, escaping",
          "[train][report]") {
  const auto run = dfer::train::read_run(finetune_run());
  CHECK(run.kind == "fine-tuning");
  CHECK(run.name == "ft-run");
  REQUIRE(run.metrics.epochs.size() == 4);
  CHECK(run.log_first_time == "2026-01-02 03:04:05");
  CHECK(run.log_last_time == "2026-01-02 04:05:06");
  const std::string html = dfer::train::report_html(run);

  // One SVG per metric group present (no angular error in a fine-tuning run), plus the heat map
  // and the recall bars.
  for (const char* id : {"plot-loss", "plot-lr", "plot-uar", "plot-war", "confusion", "recall"}) {
    INFO(id);
    CHECK(count(html, std::string("<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"") + id + "\"") ==
          1);
  }
  CHECK(count(html, "<svg ") == 6);
  CHECK(count(html, "id=\"plot-angle\"") == 0);
  // Each curve chart has its legend: train and val where both were logged.
  const auto loss_texts = texts_of(svg_of(html, "plot-loss"));
  CHECK(std::count(loss_texts.begin(), loss_texts.end(), "train") == 1);
  CHECK(std::count(loss_texts.begin(), loss_texts.end(), "val") == 1);
  CHECK(std::count(loss_texts.begin(), loss_texts.end(), "epoch") == 1);

  // The cells are drawn row by row: the first 9 numeric texts are the counts in order.
  std::vector<std::string> numbers;
  for (const auto& t : texts_of(svg_of(html, "confusion")))
    if (!t.empty() && t.find_first_not_of("0123456789") == std::string::npos) numbers.push_back(t);
  REQUIRE(numbers.size() == 9);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) CHECK(numbers[i * 3 + j] == std::to_string(kCounts[i][j]));
  const auto recall_texts = texts_of(svg_of(html, "recall"));
  CHECK(std::count(recall_texts.begin(), recall_texts.end(), "0.81") == 1);

  // Class names and config text come from files: escaped everywhere, never markup.
  CHECK(count(html, "<script") == 0);
  CHECK(count(html, "<b>Sad") == 0);
  CHECK(count(html, "&lt;b&gt;Sad&lt;/b&gt;") == 3);  // row label, column label, recall bar
  CHECK_THAT(html, Contains("Fear &amp; &quot;Loathing&quot;"));
  CHECK_THAT(html, Contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;friends&quot;"));
  CHECK(dfer::train::html_escape("a<b>&\"'") == "a&lt;b&gt;&amp;&quot;&#39;");

  // Self-contained: nothing fetched, nothing run.
  CHECK(count(html, "src=") == 0);
  CHECK(count(html, "href=") == 0);
  CHECK(count(html, "http") == count(html, "http://www.w3.org/2000/svg") + 1);  // + http-equiv
  CHECK_THAT(html, Contains("default-src 'none'"));

  // Final results and timing.
  CHECK_THAT(html, Contains("<b>0.8358</b>"));
  CHECK_THAT(html, Contains("46.00 s"));  // total epoch time 10+11+12+13
  CHECK_THAT(html, Contains("115.0"));    // mean training clips/s
  CHECK_THAT(html, Contains("wandb:"));   // the config block
}

TEST_CASE("report of a gaze run and of a pre-training run", "[train][report]") {
  const auto dir = dfer::test::temp_dir("report_gaze");
  write_file(dir / "config.yaml", "model: {name: vit_base}\ndata: {task: regression}\n");
  write_file(dir / "metrics.jsonl",
             "{\"epoch\":0,\"train_loss\":0.07,\"val_loss\":0.04,\"val_mean_angle_error\":14.7,"
             "\"val_video_mean_angle_error\":15.9,\"val_baseline_angle_error\":18.0}\n"
             "{\"epoch\":1,\"train_loss\":0.06,\"val_loss\":null,\"val_mean_angle_error\":12.5,"
             "\"val_video_mean_angle_error\":13.1,\"val_baseline_angle_error\":18.0}\n");
  write_file(dir / "final_results.json",
             "{\"task\": \"regression\", \"final_mean_angle_error\": 12.5}\n");
  const auto gaze = dfer::train::read_run(dir);
  CHECK(gaze.kind == "gaze");
  CHECK_FALSE(gaze.confusion);
  const auto figs = dfer::train::report_figures(gaze);
  REQUIRE(figs.size() == 2);
  CHECK(figs[0].id == "plot-loss");
  CHECK(figs[1].id == "plot-angle");
  const auto angle = texts_of(dfer::train::figure_svg(figs[1]));
  for (const char* label : {"val", "val, per video", "val, mean-gaze baseline"})
    CHECK(std::count(angle.begin(), angle.end(), label) == 1);
  CHECK_THAT(dfer::train::report_html(gaze), Contains("<b>12.5000</b>"));

  const auto pre = dfer::test::temp_dir("report_pre");
  write_file(pre / "config.yaml", "model: {name: pretrain_videomae_base_dim512}\n");
  write_file(pre / "metrics.jsonl", "{\"epoch\":0,\"train_loss\":0.6,\"train_lr\":1e-4}\n");
  const auto p = dfer::train::read_run(pre);
  CHECK(p.kind == "pre-training");
  const std::string html = dfer::train::report_html(p);
  CHECK(count(html, "<svg ") == 2);  // loss and lr: curves only
  CHECK_THAT(html, Contains("No <code>final_results.json</code>"));
}

TEST_CASE("report: missing or malformed run files are named with their line", "[train][report]") {
  const auto dir = finetune_run();
  const auto metrics = dir / "metrics.jsonl";
  write_file(metrics, "{\"epoch\":0,\"train_loss\":1}\n\n{\"epoch\":1,\"train_loss\":\n");
  CHECK_THAT(error_of(dir), Contains(metrics.string() + ":3: not valid JSON"));
  write_file(metrics, "{\"epoch\":0}\n[1,2]\n");
  CHECK_THAT(error_of(dir), Contains(metrics.string() + ":2: not a JSON object"));
  write_file(metrics, "{\"train_loss\":1}\n");
  CHECK_THAT(error_of(dir), Contains(metrics.string() + ":1: no \"epoch\" field"));
  write_file(metrics, "{\"epoch\":0}\n{\"epoch\":1,\"val_uar\":\"high\"}\n");
  CHECK_THAT(error_of(dir), Contains(metrics.string() + ":2: field \"val_uar\" is not a number"));
  write_file(metrics, "\n");
  CHECK_THAT(error_of(dir), Contains(metrics.string() + ": no epoch lines"));
  fs::remove(metrics);
  CHECK_THAT(error_of(dir), Contains(metrics.string() + ": missing"));
  write_file(metrics, finetune_metrics());

  const auto final = dir / "final_results.json";
  write_file(final, "{\n  \"final_uar\": 0.5,\n  \"final_war\": 0.5\n  \"x\": 1\n}\n");
  CHECK_THAT(error_of(dir), Contains(final.string() + ":4: not valid JSON"));
  write_file(final, "{\"final_confusion_matrix\": [[1, 2], [3]]}");
  CHECK_THAT(error_of(dir), Contains(final.string() + ": final_confusion_matrix must be a square"));
  write_file(final, "{\"final_confusion_matrix\": [[1, 2], [3, 4]], \"class_names\": [\"a\"]}");
  CHECK_THAT(error_of(dir), Contains(final.string() + ": class_names must be a list of 2 names"));
  write_file(final, final_results());

  const auto config = dir / "config.yaml";
  write_file(config, "model:\n  name: x\ndata: [1, 2\n");
  CHECK_THAT(error_of(dir), Contains(config.string() + ":4: malformed YAML"));
  fs::remove(config);
  CHECK_THAT(error_of(dir), Contains(config.string() + ": missing"));
  CHECK_THAT(error_of(dir / "nowhere"), Contains("not a run folder"));
}

TEST_CASE("report PNGs: one per plot, decodable, at the asked size", "[train][report]") {
  const auto run = dfer::train::read_run(finetune_run());
  const auto out = dfer::test::temp_dir("report_png") / "png";
  const auto paths = dfer::train::write_report_pngs(run, out, 1200);
  REQUIRE(paths.size() == 6);
  for (const auto& p : paths) {
    INFO(p.string());
    const cv::Mat img = cv::imread(p.string(), cv::IMREAD_COLOR);
    REQUIRE_FALSE(img.empty());
    CHECK(img.cols == 1200);
    CHECK(img.rows == 800);
    double lo = 0, hi = 0;
    cv::minMaxLoc(img.reshape(1), &lo, &hi);
    CHECK(lo < 100);  // something was drawn on the white page
    CHECK(hi == 255);
  }
  CHECK(fs::exists(out / "plot-loss.png"));
  CHECK(fs::exists(out / "confusion.png"));
}

TEST_CASE("dfer-report: default output, -o, --png, exit codes", "[train][report][e2e]") {
  const auto dir = finetune_run();
  const auto log = (dir.parent_path() / "cli.log").string();
  const auto prog = dfer::test::bin("dfer-report");
  REQUIRE(dfer::test::run({prog, dir.string()}, log) == 0);
  CHECK(fs::exists(dir / "report.html"));
  const auto other = dir.parent_path() / "other.html";
  const auto png = dir.parent_path() / "png";
  REQUIRE(dfer::test::run({prog, dir.string(), "-o", other.string(), "--png", png.string(),
                           "--png-width", "600"},
                          log) == 0);
  CHECK(dfer::test::read_file(other) == dfer::test::read_file(dir / "report.html"));
  CHECK(cv::imread((png / "recall.png").string()).cols == 600);

  write_file(dir / "metrics.jsonl", "{\"epoch\":0}\n{oops}\n");
  const auto bad_log = (dir.parent_path() / "bad.log").string();
  CHECK(dfer::test::wait_for(dfer::test::spawn({prog, dir.string()}, bad_log)) == 1);
  CHECK_THAT(dfer::test::slurp(bad_log), Contains("metrics.jsonl:2: not valid JSON"));
  CHECK(dfer::test::wait_for(dfer::test::spawn({prog}, bad_log)) == 2);
  CHECK(dfer::test::wait_for(dfer::test::spawn({prog, (dir / "nowhere").string()}, bad_log)) == 2);
}

namespace {

// The chromium on PATH ($DFER_CHROMIUM overrides), or "".
std::string find_chromium() {
  if (const char* env = std::getenv("DFER_CHROMIUM"); env && *env) return env;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string d; std::getline(dirs, d, ':');)
    if (!d.empty() && ::access((fs::path(d) / "chromium").c_str(), X_OK) == 0)
      return (fs::path(d) / "chromium").string();
  return "";
}

struct Rendered {
  int code = 0;
  std::string dom;
  std::vector<std::string> console;  // the page's console messages, as Chromium logs them
};

// Headless Chromium loads the page and prints the DOM it built; with --enable-logging=stderr every
// console message (console.error, an uncaught exception, a blocked resource) is a line holding
// ":CONSOLE" on stderr (besides unrelated D-Bus noise of a machine without a session bus).
Rendered render(const std::string& chromium, const fs::path& page) {
  const auto dir = page.parent_path();
  const auto dom = dir / (page.stem().string() + ".dom"),
             err = dir / (page.stem().string() + ".err");
  Rendered r;
  r.code = dfer::test::wait_for(dfer::test::spawn(
      {"/bin/sh", "-c",
       "exec timeout 120 \"$0\" --headless --no-sandbox --disable-gpu --no-first-run "
       "--user-data-dir=\"$1\" --enable-logging=stderr --v=0 --dump-dom \"$2\" >\"$3\" 2>\"$4\"",
       chromium, (dir / "chromium-profile").string(), "file://" + fs::absolute(page).string(),
       dom.string(), err.string()},
      (dir / "sh.log").string()));
  fs::remove_all(dir / "chromium-profile");  // a few MB per run
  r.dom = dfer::test::slurp(dom);
  std::istringstream lines(dfer::test::slurp(err));
  for (std::string line; std::getline(lines, line);)
    if (line.find(":CONSOLE") != std::string::npos) r.console.push_back(line);
  return r;
}

}  // namespace

TEST_CASE("dfer-report's page renders in headless Chromium without console messages",
          "[train][report][chromium]") {
  const std::string chromium = find_chromium();
  if (chromium.empty()) {
    if (const char* ci = std::getenv("CI"); ci && std::string(ci) == "true")
      FAIL("chromium is not installed (tools/test.sh installs Debian's chromium)");
    WARN("chromium not installed: the rendering check is skipped (apt-get install chromium)");
    return;
  }
  const auto dir = finetune_run();
  // A control page first: a deliberate script error must show up, or the check below proves
  // nothing (another Chromium might log console messages differently).
  const auto control = dir.parent_path() / "control.html";
  write_file(control,
             "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>c</title></head><body>"
             "<script>undefinedFunction();</script></body></html>");
  const auto c = render(chromium, control);
  REQUIRE(c.code == 0);
  REQUIRE_FALSE(c.console.empty());
  CHECK(std::any_of(c.console.begin(), c.console.end(), [](const std::string& line) {
    return line.find("undefinedFunction is not defined") != std::string::npos;
  }));

  const auto page = dir.parent_path() / "report.html";
  write_file(page, dfer::train::report_html(dfer::train::read_run(dir)));
  const auto r = render(chromium, page);
  REQUIRE(r.code == 0);
  for (const auto& line : r.console) FAIL_CHECK("console: " << line);
  CHECK(r.console.empty());
  // The DOM Chromium built holds every plot and the heat map's counts.
  for (const char* id : {"plot-loss", "plot-lr", "plot-uar", "plot-war", "confusion", "recall"}) {
    INFO(id);
    CHECK(count(r.dom, std::string("id=\"") + id + "\"") == 1);
  }
  CHECK(count(r.dom, "<svg ") == 6);
  const auto cells = texts_of(svg_of(r.dom, "confusion"));
  CHECK(std::count(cells.begin(), cells.end(), "23") == 1);
  CHECK(std::count(cells.begin(), cells.end(), "17") == 1);
}
