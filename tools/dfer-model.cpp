// dfer-model: model utilities. `env` (environment report for bug reports), `summary` (parameters
// and MACs per clip of a configured model), `convert` (official .pth -> safetensors),
// `merge-lora` (adapters folded into plain weights), `bench` (training / evaluation step and
// loader throughput; figures, not tests).
#include <CLI/CLI.hpp>

#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>
#include <optional>

#include "dfer/config/cli.h"
#include "dfer/dist/launch_env.h"
#include "dfer/dist/world.h"
#include "dfer/io/weight_files.h"
#include "dfer/models/attention.h"
#include "dfer/models/build.h"
#include "dfer/models/lora.h"
#include "dfer/models/packed_linear.h"
#include "dfer/models/scan_check.h"
#include "dfer/models/summary.h"
#include "dfer/train/bench.h"
#include "dfer/train/dist_bench.h"
#ifndef DFER_NO_DATA  // the GPU-check build has no data pipeline (CMake DFER_GPU_CHECK)
#include "dfer/train/loader_bench.h"
#endif
#include "dfer/train/model_factory.h"
#include "dfer/train/precision.h"
#include "dfer/util/error.h"
#include "dfer/util/log.h"
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

  auto* merge = app.add_subcommand(
      "merge-lora", "fold LoRA adapters into plain weights (loadable without use_lora)");
  std::string m_in, m_out;
  merge->add_option("input", m_in, "weights with lora_* tensors (safetensors or .pth)")->required();
  merge->add_option("output", m_out, "safetensors file to write")->required();

  auto* bench = app.add_subcommand(
      "bench", "throughput of a configured model (--train, --eval) or of the loader (--loader)");
  dfer::CliArgs bcli;
  std::vector<std::string> btokens;
  dfer::add_common_options(*bench, bcli, btokens);
  bool b_train = false, b_eval = false, b_loader = false;
  int64_t b_batch = 2;
  int b_steps = 5, b_warmup = 2, b_runs = 3;
  int64_t b_batches = 8;
  std::string b_precision;
  std::vector<std::string> b_sources;
  std::vector<int64_t> b_workers = {1, 2};
  bench->add_flag("--train", b_train, "training steps: clips/s, data/forward/backward/optimizer");
  bench->add_flag("--eval", b_eval, "evaluation forward passes: clips/s");
  bench->add_flag("--loader", b_loader, "training loader: clips/s per source and worker count");
  bench->add_option("--batch", b_batch, "clips per step (--train/--eval)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  bench->add_option("--steps", b_steps, "measured steps (median reported)")->capture_default_str();
  bench->add_option("--warmup", b_warmup, "unmeasured steps first")->capture_default_str();
  bench->add_option("--precision", b_precision, "fp32 | bf16 | fp16 (default: system.precision)");
  std::string b_attention = "auto";
  bench
      ->add_option("--attention", b_attention,
                   "--train/--eval attention kernel: fused (scaled_dot_product_attention), "
                   "explicit (matmul, softmax, matmul) or auto (on a CPU: explicit when training, "
                   "or in bf16 over at most 512 keys)")
      ->check(CLI::IsMember({"auto", "fused", "explicit"}))
      ->capture_default_str();
  std::string b_linear = "packed";
  bench
      ->add_option("--linear", b_linear,
                   "--eval in bf16 on a CPU: packed (each Linear weight cast and reordered for "
                   "oneDNN once per pass) or plain (at::linear, the weight packed inside every "
                   "GEMM); the same values")
      ->check(CLI::IsMember({"packed", "plain"}))
      ->capture_default_str();
  std::string b_profile;
  bench->add_option("--profile", b_profile,
                    "--train/--eval: write a Chrome trace of every op (LibTorch's profiler) here");
  bench->add_option("--source", b_sources,
                    "LABEL=DATA_PATH for --loader: a folder with train.csv or a pack (repeatable)");
  bench->add_option("--workers", b_workers, "--loader worker counts")->capture_default_str();
  bench->add_option("--batches", b_batches, "--loader batches timed per run")
      ->capture_default_str();
  bool b_eval_chain = false;
  bench->add_flag("--eval-chain", b_eval_chain,
                  "--loader: validation transforms instead of the training augmentation");
  bool b_decode_only = false;
  bench->add_flag("--decode-only", b_decode_only,
                  "--loader: sampled frames decoded and resized only (uint8), no transforms");
  bench->add_option("--runs", b_runs, "--loader runs per row (median reported)")
      ->capture_default_str();
  bool b_shared_kernels = false;
  bench->add_flag("--compare-shared-kernels", b_shared_kernels,
                  "--loader: also time 0 workers with loading on the compute threads' OpenMP team");
  int b_busy = 0;
  bench->add_option("--busy", b_busy, "--loader: spinning background processes (deliberate load)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  bool b_dist = false;
  double b_bucket_mb = 25;
  std::string b_json;
  bench->add_flag("--dist", b_dist,
                  "data parallel, in the job the launcher describes (tools/bench_dist.sh): "
                  "all-reduce bandwidth, step time, communication hidden behind backward");
  bench->add_option("--bucket-mb", b_bucket_mb, "--dist: gradient bucket size (MiB)")
      ->capture_default_str();
  bench->add_option("--json", b_json, "--dist: also write the result of rank 0 to this file");

  auto* scan_check = app.add_subcommand(
      "scan-check",
      "fused CUDA (or, with --device cpu, CPU) selective scan against the chunked LibTorch scan: "
      "errors, times");
  std::string sc_device = "cuda";
  int sc_runs = 5;
  scan_check->add_option("--device", sc_device, "cuda[:N], or cpu: the fused CPU scan instead")
      ->capture_default_str();
  scan_check->add_option("--runs", sc_runs, "timed runs per measurement (median reported)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

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
    } else if (*bench) {
      if (bcli.verbose) dfer::init_console_logging(true);  // the per-step debug lines
      if (int(b_train) + int(b_eval) + int(b_loader) + int(b_dist) == 0)
        throw dfer::UsageError("bench: choose --train, --eval, --loader and/or --dist");
      bcli.overrides = dfer::pair_overrides(btokens);
      auto cfg = dfer::load_config(bcli);
      if (b_loader) {
#ifdef DFER_NO_DATA
        throw dfer::UsageError("bench --loader: this build has no data pipeline (DFER_GPU_CHECK)");
#else
        dfer::train::LoaderBenchOptions lo;
        for (const auto& s : b_sources) {
          const auto eq = s.find('=');
          if (eq == std::string::npos)
            lo.sources.emplace_back(s, s);
          else
            lo.sources.emplace_back(s.substr(0, eq), s.substr(eq + 1));
        }
        if (lo.sources.empty())
          lo.sources.emplace_back("data_path", cfg.get_string("data.data_path"));
        lo.workers = b_workers;
        lo.batches = b_batches;
        lo.runs = b_runs;
        lo.eval_chain = b_eval_chain;
        lo.decode_only = b_decode_only;
        lo.compare_shared_kernels = b_shared_kernels;
        lo.busy_processes = b_busy;
        std::cout << "loader benchmark (training split, "
                  << (b_decode_only  ? "frames decoded and resized only"
                      : b_eval_chain ? "validation transforms"
                                     : "full train augmentation of the config")
                  << "), " << at::get_num_threads() << " intra-op threads, " << b_busy
                  << " busy background processes\n"
                  << dfer::train::loader_bench_table(dfer::train::bench_loader(cfg, lo));
#endif
      }
      if (b_dist) {
        dfer::train::DistBenchOptions d;
        d.train.spec = dfer::train::model_spec_from_config(cfg);
        d.train.batch = b_batch;
        d.train.steps = b_steps;
        d.train.warmup = b_warmup;
        d.bucket_bytes = static_cast<int64_t>(b_bucket_mb * (1 << 20));
        const auto env = dfer::dist::read_launch_env();
        d.train.device =
            dfer::train::resolve_device(cfg.get_string("system.device"), env.local_rank);
        d.train.precision = dfer::train::parse_precision(
            b_precision.empty() ? cfg.get_string("system.precision") : b_precision, d.train.device);
        dfer::dist::WorldOptions wo;
        wo.backend = d.train.device.is_cuda() ? "nccl" : "gloo";
        wo.cuda_device = d.train.device.is_cuda() ? d.train.device.index() : -1;
        wo.force_group = env.launcher != "none";  // a launched world of one still gets a group
        auto world = dfer::dist::World::join(env, wo);
        const auto r = dfer::train::bench_dist(*world, d);
        if (world->is_main()) {
          std::cout << at::get_num_threads() << " thread(s) per process, device "
                    << d.train.device.str() << ", batch " << b_batch << " per process\n"
                    << r.to_string();
          if (!b_json.empty()) std::ofstream(b_json) << r.to_json().dump() << "\n";
        }
      }
      if (b_train || b_eval) {
        dfer::train::TrainBenchOptions to;
        to.spec = dfer::train::model_spec_from_config(cfg);
        to.device = dfer::train::resolve_device(cfg.get_string("system.device"));
        to.precision = dfer::train::parse_precision(
            b_precision.empty() ? cfg.get_string("system.precision") : b_precision, to.device);
        to.batch = b_batch;
        to.steps = b_steps;
        to.warmup = b_warmup;
        to.mask_ratio = cfg.get_float("model.mask_ratio");
        using dfer::models::AttentionBackend;
        dfer::models::set_attention_backend(b_attention == "explicit" ? AttentionBackend::kExplicit
                                            : b_attention == "fused"  ? AttentionBackend::kFused
                                                                      : AttentionBackend::kAuto);
        dfer::models::set_weight_packing(b_linear == "packed");
        const bool packs = b_linear == "packed" && dfer::models::packed_linear_available();
        std::cout << "precision " << dfer::train::precision_name(to.precision) << ", device "
                  << to.device.str() << ", " << at::get_num_threads() << " threads, " << b_attention
                  << " attention, "
                  << (packs                  ? "packed"
                      : b_linear == "packed" ? "plain (no oneDNN bf16)"
                                             : "plain")
                  << " linear\n";
        std::optional<dfer::train::OpTrace> profile;
        if (!b_profile.empty()) profile.emplace(b_profile);
        if (b_train) std::cout << dfer::train::bench_train(to).to_string() << "\n";
        if (b_eval) std::cout << dfer::train::bench_eval(to).to_string() << "\n";
      }
    } else if (*scan_check) {
      const auto r = dfer::models::check_scan_kernel({torch::Device(sc_device), sc_runs});
      std::cout << r.report;
      if (!r.passed) return 1;
    } else if (*merge) {
      int64_t merged = 0;
      auto plain = dfer::models::merge_lora(dfer::io::load_weights_any(m_in), &merged);
      if (merged == 0) throw dfer::UsageError("merge-lora: '" + m_in + "' has no LoRA adapter");
      dfer::io::save_safetensors(m_out, plain);
      std::cout << "wrote " << m_out << ": " << merged << " adapters folded, " << plain.size()
                << " tensors\n";
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
