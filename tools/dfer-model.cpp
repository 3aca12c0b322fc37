// dfer-model: model utilities. `env` (environment report for bug reports), `summary` (parameters
// and MACs per clip of a configured model), `convert` (official .pth -> safetensors).
#include <CLI/CLI.hpp>

#include <iostream>

#include "dfer/util/error.h"
#include "dfer/util/system.h"

int main(int argc, char** argv) {
  dfer::init_process();
  CLI::App app{"dfer-model: environment report, model summary, checkpoint conversion"};
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "intra-op threads (0: OMP_NUM_THREADS or all cores)");

  auto* env = app.add_subcommand("env", "LibTorch build, devices, BLAS, threads, GEMM throughput");
  bool no_measure = false;
  env->add_flag("--no-measure", no_measure, "skip the GEMM measurement");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    dfer::configure_threads(threads);
    if (*env) {
      std::cout << dfer::environment_report(!no_measure);
      return 0;
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
