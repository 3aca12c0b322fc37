// dfer-model: model utilities. `env` (environment report for bug reports), `summary` (parameters
// and MACs per clip of a configured model), `convert` (official .pth -> safetensors).
#include <CLI/CLI.hpp>

#include <spdlog/spdlog.h>

#include <iostream>

#include "dfer/config/cli.h"
#include "dfer/io/weight_files.h"
#include "dfer/models/build.h"
#include "dfer/models/summary.h"
#include "dfer/train/model_factory.h"
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

  auto* summary =
      app.add_subcommand("summary", "parameters and MACs per clip of a configured model");
  dfer::CliArgs cli;
  std::vector<std::string> tokens;
  dfer::add_common_options(*summary, cli, tokens);
  int64_t batch = 1;
  summary->add_option("--batch", batch, "clips per forward for the MAC count")
      ->check(CLI::PositiveNumber);

  auto* convert = app.add_subcommand("convert", "official .pth checkpoint -> safetensors");
  std::string in, out;
  convert->add_option("input", in, "checkpoint written by torch.save (.pth)")->required();
  convert->add_option("output", out, "safetensors file to write")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    dfer::configure_threads(threads);
    if (*env) {
      std::cout << dfer::environment_report(!no_measure);
    } else if (*summary) {
      cli.overrides = dfer::pair_overrides(tokens);
      auto cfg = dfer::load_config(cli);
      auto spec = dfer::train::model_spec_from_config(cfg);
      auto model = dfer::models::build_model(spec);
      double mask_ratio = cfg.get_float("model.mask_ratio");
      std::cout << dfer::models::summarize(*model, spec, batch, mask_ratio).to_string() << "\n";
    } else if (*convert) {
      auto r = dfer::io::convert_pth_to_safetensors(in, out);
      std::cout << "wrote " << out << ": " << r.tensors << " tensors, " << r.values
                << " values (from the '"
                << (r.selected_key.empty() ? "<top level>" : r.selected_key) << "' dict of " << in
                << ")\n";
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
