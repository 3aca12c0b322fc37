// Training-step benchmark (see bench.h).
#include "dfer/train/bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#ifdef DFER_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif
#include <spdlog/spdlog.h>
#include <torch/csrc/autograd/profiler_kineto.h>

#include "dfer/models/build.h"
#include "dfer/models/mae_target.h"
#include "dfer/models/summary.h"
#include "dfer/train/losses.h"
#include "dfer/train/optimizer.h"
#include "dfer/train/param_groups.h"
#include "dfer/util/error.h"

namespace dfer::train {

namespace {
using Clock = std::chrono::steady_clock;

void sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize(d.index());
}

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

void reset_peaks(const torch::Device& d) {
  reset_host_peak();
#ifdef DFER_WITH_CUDA
  if (d.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(d.index());
#else
  (void)d;
#endif
}

// Peak memory since reset_peaks: CUDA allocated bytes on a GPU, else the host's peak RSS.
std::pair<int64_t, std::string> peak_memory(const torch::Device& d) {
#ifdef DFER_WITH_CUDA
  if (d.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(d.index());
    return {stats.allocated_bytes[0].peak, "cuda allocated"};  // StatType::AGGREGATE
  }
#else
  (void)d;
#endif
  return {host_peak_rss(), "host RSS"};
}

// A part-window style mask: the same number of visible tokens per LGI region row (pre-train).
torch::Tensor bench_mask(const models::ModelSpec& s, int64_t batch, double ratio) {
  const auto g = s.token_grid();
  const int64_t win =
      s.attn_type == "local_global" ? s.lg_region_size[1] * s.lg_region_size[2] : g[1] * g[2];
  const int64_t per_frame = g[1] * g[2];
  const int64_t masked = static_cast<int64_t>(ratio * static_cast<double>(win));
  auto frame = torch::zeros({per_frame}, torch::kBool);
  for (int64_t w0 = 0; w0 < per_frame; w0 += win) {
    auto perm = torch::randperm(win).slice(0, 0, masked) + w0;
    frame.index_fill_(0, perm, true);
  }
  return frame.repeat({g[0]}).unsqueeze(0).expand({batch, per_frame * g[0]}).contiguous();
}
}  // namespace

double median_seconds(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int64_t host_peak_rss() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // kB
  return 0;
}

// Linux: writing 5 to clear_refs resets VmHWM, so a benchmark reports its own peak.
void reset_host_peak() {
  std::ofstream out("/proc/self/clear_refs");
  if (out) out << "5";
}

double measure_gemm_tflops(const torch::Device& device, Precision precision, int64_t n, int reps) {
  torch::NoGradGuard ng;
  const auto dtype = precision == Precision::kFp32   ? torch::kFloat
                     : precision == Precision::kBf16 ? torch::kBFloat16
                                                     : torch::kHalf;
  auto a = torch::randn({n, n}, torch::TensorOptions().device(device).dtype(dtype));
  auto b = torch::randn({n, n}, torch::TensorOptions().device(device).dtype(dtype));
  torch::matmul(a, b);
  sync(device);
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    auto c = torch::matmul(a, b);
    sync(device);
    t.push_back(since(t0));
  }
  const double s = median_seconds(t);
  return s > 0 ? 2.0 * static_cast<double>(n * n * n) / s / 1e12 : 0.0;
}

namespace {
// A GEMM large enough to reach the device's peak: 2048^3 saturates a CPU; a GPU needs far more
// work per launch (an H200 reaches ~790 bf16 TFLOP/s only from about 8192^3).
int64_t gemm_size(const torch::Device& d) {
  return d.is_cuda() ? 8192 : 2048;
}

// The GEMM peak as the median of one GEMM timed right after each measured step, so that the steps
// and the peak they are divided by see the same machine: on a shared VM the rate drifts by up to
// 2x within a minute, and a peak measured once at the end made MFU swing from 60% to over 100%.
// A GPU measures once at the end, as before: its 8192^2 operands would otherwise enter the peak of
// allocated memory the benchmark reports.
void gemm_probe(const TrainBenchOptions& o, std::vector<double>& peaks) {
  if (o.device.is_cuda()) return;
  peaks.push_back(measure_gemm_tflops(o.device, o.precision, gemm_size(o.device), /*reps=*/1));
  spdlog::debug("bench GEMM probe {}: {:.3f} TFLOP/s", peaks.size(), peaks.back());
}

double gemm_peak(const TrainBenchOptions& o, std::vector<double> peaks) {
  if (peaks.empty()) return measure_gemm_tflops(o.device, o.precision, gemm_size(o.device));
  return median_seconds(std::move(peaks));  // a median of rates, not of seconds
}
}  // namespace

TrainBenchResult bench_train(const TrainBenchOptions& o) {
  const auto& spec = o.spec;
  const bool pretrain = spec.kind == models::ModelKind::kPretrain;
  auto model = models::build_model(spec);
  model->to(o.device);
  model->train();
  ParamGroupOptions go;
  go.skip_list = pretrain ? pretrain_skip_list() : finetune_skip_list();
  go.num_layers = spec.depth;
  AdamW opt(build_param_groups(models::unique_named_parameters(*model), go), {});
  LossScaler scaler(o.precision == Precision::kFp16);
  models::MaeTargetOptions mo;
  mo.patch_size = spec.patch_size;
  mo.tubelet_size = spec.tubelet_size;
  reset_peaks(o.device);
  const auto host = torch::TensorOptions().pinned_memory(o.device.is_cuda());
  std::vector<double> step, data, fwd, bwd, optim, peaks;
  for (int i = 0; i < o.warmup + o.steps; ++i) {
    sync(o.device);
    const auto t0 = Clock::now();
    auto clips =
        torch::randn({o.batch, spec.in_chans, spec.num_frames, spec.img_size, spec.img_size}, host)
            .to(o.device, true);
    auto labels = torch::randint(std::max<int64_t>(spec.num_classes, 1), {o.batch},
                                 torch::TensorOptions().dtype(torch::kLong))
                      .to(o.device);
    torch::Tensor mask =
        pretrain ? bench_mask(spec, o.batch, o.mask_ratio).to(o.device) : torch::Tensor();
    sync(o.device);
    const auto t1 = Clock::now();
    torch::Tensor loss;
    {
      AutocastScope ac(o.precision, o.device);
      if (pretrain) {
        auto targets = models::compute_mae_targets(clips, mask, mo);
        auto out = models::as_masked_model(model)->forward(clips, mask);
        loss = models::mae_loss(out, targets.labels, mo).loss;
      } else {
        loss = label_smoothing_cross_entropy(models::as_classifier(model)->forward(clips), labels,
                                             0.1);
      }
    }
    sync(o.device);
    const auto t2 = Clock::now();
    (loss.to(torch::kFloat) * scaler.scale()).backward();
    sync(o.device);
    const auto t3 = Clock::now();
    if (scaler.enabled()) opt.scale_grads(1.0 / scaler.scale());
    opt.step(1e-4, 0.05);
    opt.zero_grad();
    sync(o.device);
    const auto t4 = Clock::now();
    spdlog::debug(
        "bench train step {}{}: data {:.1f} ms, forward {:.1f} ms, backward {:.1f} ms, "
        "optimizer {:.1f} ms, loss {:.4f}",
        i + 1, i < o.warmup ? " (warm-up)" : "", ms(t1 - t0), ms(t2 - t1), ms(t3 - t2), ms(t4 - t3),
        loss.item<double>());
    if (i < o.warmup) continue;
    data.push_back(std::chrono::duration<double>(t1 - t0).count());
    fwd.push_back(std::chrono::duration<double>(t2 - t1).count());
    bwd.push_back(std::chrono::duration<double>(t3 - t2).count());
    optim.push_back(std::chrono::duration<double>(t4 - t3).count());
    step.push_back(std::chrono::duration<double>(t4 - t0).count());
    gemm_probe(o, peaks);
  }
  TrainBenchResult r;
  r.description = models::describe(spec);
  r.batch = o.batch;
  r.step_s = median_seconds(step);
  r.data_s = median_seconds(data);
  r.forward_s = median_seconds(fwd);
  r.backward_s = median_seconds(bwd);
  r.optimizer_s = median_seconds(optim);
  r.clips_per_s = r.step_s > 0 ? static_cast<double>(o.batch) / r.step_s : 0.0;
  std::tie(r.peak_memory_bytes, r.memory_kind) = peak_memory(o.device);
  const auto macs = models::count_macs(spec, o.batch, o.mask_ratio).total_macs();
  r.train_gflop_per_step = 3.0 * 2.0 * static_cast<double>(macs) / 1e9;
  r.achieved_tflops = r.step_s > 0 ? r.train_gflop_per_step / r.step_s / 1e3 : 0.0;
  r.gemm_peak_tflops = gemm_peak(o, peaks);
  r.mfu = r.gemm_peak_tflops > 0 ? r.achieved_tflops / r.gemm_peak_tflops : 0.0;
  return r;
}

EvalBenchResult bench_eval(const TrainBenchOptions& o) {
  if (o.spec.kind == models::ModelKind::kPretrain)
    throw UsageError("bench --eval: needs a fine-tune model (the pre-training model has no test)");
  auto model = models::build_classifier(o.spec);
  model->to(o.device);
  model->eval();
  reset_peaks(o.device);
  const auto host = torch::TensorOptions().pinned_memory(o.device.is_cuda());
  const auto& s = o.spec;
  std::vector<double> step, peaks;
  // As evaluate_outputs: the weights are cast once for the pass (in the warm-up), not per batch.
  const CastCacheScope cast_once(o.precision);
  for (int i = 0; i < o.warmup + o.steps; ++i) {
    sync(o.device);
    const auto t0 = Clock::now();
    {
      // NoGradGuard as evaluate_outputs: under InferenceMode autocast caches no cast at all.
      torch::NoGradGuard no_grad;
      auto clips = torch::randn({o.batch, s.in_chans, s.num_frames, s.img_size, s.img_size}, host)
                       .to(o.device, true);
      AutocastScope ac(o.precision, o.device);
      auto probs = torch::softmax(model->forward(clips).to(torch::kFloat), -1);
      sync(o.device);
    }
    spdlog::debug("bench eval step {}{}: {:.1f} ms", i + 1, i < o.warmup ? " (warm-up)" : "",
                  1e3 * since(t0));
    if (i < o.warmup) continue;
    step.push_back(since(t0));
    gemm_probe(o, peaks);
  }
  EvalBenchResult r;
  r.description = models::describe(s);
  r.batch = o.batch;
  r.step_s = median_seconds(step);
  r.clips_per_s = r.step_s > 0 ? static_cast<double>(o.batch) / r.step_s : 0.0;
  std::tie(r.peak_memory_bytes, r.memory_kind) = peak_memory(o.device);
  r.gflop_per_step =
      2.0 * static_cast<double>(models::count_macs(s, o.batch, 0.0).total_macs()) / 1e9;
  r.achieved_tflops = r.step_s > 0 ? r.gflop_per_step / r.step_s / 1e3 : 0.0;
  r.gemm_peak_tflops = gemm_peak(o, peaks);
  r.mfu = r.gemm_peak_tflops > 0 ? r.achieved_tflops / r.gemm_peak_tflops : 0.0;
  return r;
}

std::string EvalBenchResult::to_string() const {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%s\n  evaluation, batch %lld: %.2f clips/s, step %.1f ms (median); peak memory "
                "(%s) %.1f MiB\n  %.1f GFLOP per step (forward), %.3f TFLOP/s achieved, GEMM "
                "peak %.3f TFLOP/s, MFU %.1f%%",
                description.c_str(), static_cast<long long>(batch), clips_per_s, step_s * 1e3,
                memory_kind.c_str(), static_cast<double>(peak_memory_bytes) / (1 << 20),
                gflop_per_step, achieved_tflops, gemm_peak_tflops, 100.0 * mfu);
  return buf;
}

std::string TrainBenchResult::to_string() const {
  std::ostringstream os;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%s\n  batch %lld: %.2f clips/s, step %.1f ms (data %.1f, forward %.1f, backward "
                "%.1f, optimizer %.1f; medians)\n  peak memory (%s) %.1f MiB\n  %.1f GFLOP per "
                "step (3x forward), %.3f TFLOP/s achieved, GEMM peak %.3f TFLOP/s, MFU %.1f%%",
                description.c_str(), static_cast<long long>(batch), clips_per_s, step_s * 1e3,
                data_s * 1e3, forward_s * 1e3, backward_s * 1e3, optimizer_s * 1e3,
                memory_kind.c_str(), static_cast<double>(peak_memory_bytes) / (1 << 20),
                train_gflop_per_step, achieved_tflops, gemm_peak_tflops, 100.0 * mfu);
  os << buf;
  return os.str();
}

namespace {
torch::autograd::profiler::ProfilerConfig trace_config() {
  return torch::autograd::profiler::ProfilerConfig(torch::profiler::impl::ProfilerState::KINETO,
                                                   /*report_input_shapes=*/true,
                                                   /*profile_memory=*/true);
}
}  // namespace

OpTrace::OpTrace(std::string path) : path_(std::move(path)) {
  const std::set<torch::profiler::impl::ActivityType> cpu{torch::profiler::impl::ActivityType::CPU};
  torch::autograd::profiler::prepareProfiler(trace_config(), cpu);
  torch::autograd::profiler::enableProfiler(trace_config(), cpu);
}

OpTrace::~OpTrace() {
  try {
    torch::autograd::profiler::disableProfiler()->save(path_);
    spdlog::info("op trace written to {}", path_);
  } catch (const std::exception& e) {
    spdlog::error("op trace {} not written: {}", path_, e.what());
  }
}

}  // namespace dfer::train
