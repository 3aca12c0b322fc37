// dfer-parity: runs Python reference fixtures (fixtures/reference/<set>/) through the C++ models
// and prints, per expected tensor, the max abs/rel error and PASS/FAIL; trajectory fixtures replay
// the fine-tuning recipe step by step (dfer/train/trajectory.h). Exit 0 only if all pass.
#include <CLI/CLI.hpp>

#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "dfer/models/parity.h"
#include "dfer/train/trajectory.h"
#include "dfer/util/error.h"

int main(int argc, char** argv) {
  CLI::App app{"dfer-parity: compare the C++ models with the Python reference fixtures"};
  std::vector<std::string> dirs;
  std::string backend = "fused";
  dfer::models::ParityOptions opt;
  app.add_option("fixtures", dirs, "fixture folders (config.json, weights/input/expected)")
      ->required();
  app.add_option("--attention", backend, "attention kernel: fused or explicit")
      ->check(CLI::IsMember({"fused", "explicit"}));
  app.add_option("--atol", opt.atol, "absolute tolerance, scaled by max(1, max|expected|)");
  app.add_option("--rtol", opt.rtol, "relative tolerance");
  app.add_option("--loss-rtol", opt.loss_rtol, "relative tolerance of scalar losses");
  std::string device = "cpu";
  app.add_option("--device", device, "cpu, cuda or cuda:N (fp32 on CUDA: TF32 held off)")
      ->capture_default_str();
  // Trajectory fixtures ("kind": "finetune_trajectory"): the recipe replayed in float64.
  dfer::train::TrajectoryOptions topt;
  bool single_process = false;
  app.add_flag("--single-process-grads", single_process,
               "trajectory: skip parameters without a gradient, as one plain PyTorch process "
               "does (the trainer gives them zeros, as the reference's DDP does)");
  double test_layer_decay = 0;
  app.add_option("--test-layer-decay", test_layer_decay,
                 "trajectory, test only: replace the recipe's layer decay (must then fail)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  opt.backend = backend == "explicit" ? dfer::models::AttentionBackend::kExplicit
                                      : dfer::models::AttentionBackend::kFused;
  try {
    opt.device = torch::Device(device);
  } catch (const std::exception&) {
    std::cerr << "dfer-parity: --device: '" << device << "' is not a device (cpu, cuda, cuda:N)\n";
    return 2;
  }
  if (opt.device.is_cuda() && !torch::cuda::is_available()) {
    std::cerr << "dfer-parity: --device " << device << ": no CUDA device is visible\n";
    return 2;
  }
  topt.missing_grad_as_zero = !single_process;
  if (test_layer_decay > 0) topt.layer_decay_override = test_layer_decay;
  int failed = 0;
  for (const auto& dir : dirs) {
    try {
      if (dfer::train::is_trajectory_fixture(dir)) {
        const auto t = dfer::train::run_trajectory(dir, topt);
        std::cout << t.to_string();
        if (!t.passed()) {
          std::cout << "FAILED: " << fmt::format("{}", fmt::join(t.failed(), ", ")) << "\n";
          ++failed;
        }
        std::cout << std::endl;
        continue;
      }
      auto result = dfer::models::run_parity(dir, opt);
      std::cout << result.to_string() << std::endl;
      failed += !result.passed();
    } catch (const dfer::Error& e) {
      std::cerr << "dfer-parity: " << e.what() << std::endl;
      ++failed;
    } catch (const std::exception& e) {
      std::cerr << "dfer-parity: " << dir << ": " << e.what() << std::endl;
      ++failed;
    }
  }
  std::cout << (failed ? "FAIL" : "PASS") << ": " << dirs.size() - failed << "/" << dirs.size()
            << " fixtures" << std::endl;
  return failed ? 1 : 0;
}
