// dfer-report: a run folder -> one self-contained HTML report (curves, confusion matrix, per-class
// recall, timing, effective config) and, with --png, the same plots as PNG files for papers.
// Exit 0 ok, 1 a missing or malformed run file (or a write failure), 2 a bad command line.
#include <CLI/CLI.hpp>

#include <spdlog/spdlog.h>

#include <filesystem>
#include <string>

#include "dfer/io/atomic_file.h"
#include "dfer/train/report.h"
#include "dfer/util/error.h"
#include "dfer/util/log.h"

int main(int argc, char** argv) {
  dfer::init_console_logging();
  CLI::App app{"dfer-report: a run folder -> one offline HTML report (and PNG plots)"};
  std::string run_dir, out, png_dir;
  int png_width = 1200;
  app.add_option("RUN_DIR", run_dir, "run folder (metrics.jsonl, config.yaml, final_results.json)")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("-o,--output", out, "HTML file to write (default: RUN_DIR/report.html)");
  app.add_option("--png", png_dir, "also write one PNG per plot into this folder");
  app.add_option("--png-width", png_width, "PNG width in pixels (height in proportion, 3:2)")
      ->capture_default_str()
      ->check(CLI::Range(200, 8000));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    const auto run = dfer::train::read_run(run_dir);
    if (out.empty()) out = (std::filesystem::path(run_dir) / "report.html").string();
    dfer::io::write_file_atomic(out, dfer::train::report_html(run));
    spdlog::info("wrote {} ({} run, {} epochs)", out, run.kind, run.metrics.epochs.size());
    if (!png_dir.empty()) {
      const auto pngs = dfer::train::write_report_pngs(run, png_dir, png_width);
      spdlog::info("wrote {} PNG plot(s) into {}", pngs.size(), png_dir);
    }
  } catch (const dfer::Error& e) {
    spdlog::error("{}", e.what());
    return dfer::exit_code_for(e);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}
