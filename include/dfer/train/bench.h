// Training-step benchmark (dfer-model bench --train): clips/s, the split of a step into data /
// forward / backward / optimizer, peak memory, and model-FLOP utilisation against a measured GEMM
// peak. Inputs are random clips of the model's shape, so "data" is batch creation + the host ->
// device copy, not decoding.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "dfer/models/spec.h"
#include "dfer/train/precision.h"

namespace dfer::train {

struct TrainBenchOptions {
  models::ModelSpec spec;  // fine-tune (classification step) or pre-train (MAE step) model
  int64_t batch = 8;
  int warmup = 2;           // steps excluded from the statistics
  int steps = 5;            // measured steps (median reported)
  double mask_ratio = 0.9;  // pre-train: part-window / tube mask ratio
  torch::Device device = torch::kCPU;
  Precision precision = Precision::kFp32;
};

struct TrainBenchResult {
  std::string description;
  int64_t batch = 0;
  // Medians over the measured steps, seconds.
  double step_s = 0, data_s = 0, forward_s = 0, backward_s = 0, optimizer_s = 0;
  double clips_per_s = 0;
  int64_t peak_memory_bytes = 0;    // CUDA: peak allocated; CPU: peak resident set (VmHWM)
  std::string memory_kind;          // "cuda allocated" / "host RSS"
  double train_gflop_per_step = 0;  // 3 x forward FLOPs (2 x MACs) of the batch
  double achieved_tflops = 0;
  double gemm_peak_tflops = 0;  // measured dense matmul rate in the compute dtype
  double mfu = 0;               // achieved / peak
  std::string to_string() const;
};

TrainBenchResult bench_train(const TrainBenchOptions& options);

// Evaluation throughput of the fine-tune model: forward passes without autograd (no_grad) and the
// precision's autocast, the model in eval mode (no drop path), as the multi-view test runs them.
struct EvalBenchResult {
  std::string description;
  int64_t batch = 0;
  double step_s = 0, clips_per_s = 0;  // median over the measured steps
  int64_t peak_memory_bytes = 0;
  std::string memory_kind;
  double gflop_per_step = 0;  // forward FLOPs (2 x MACs) of the batch
  double achieved_tflops = 0;
  double gemm_peak_tflops = 0;  // measured dense matmul rate in the compute dtype
  double mfu = 0;
  std::string to_string() const;
};

EvalBenchResult bench_eval(const TrainBenchOptions& options);

// The median of timings (the upper middle one of an even count), 0 for none: what every
// benchmark row reports.
double median_seconds(std::vector<double> seconds);

// The process's peak resident set (VmHWM, bytes) and its reset (Linux clear_refs), so each
// benchmark row reports its own peak. 0 / no-op where /proc is unavailable.
int64_t host_peak_rss();
void reset_host_peak();

// Dense matmul throughput (TFLOP/s) on `device` in the dtype `precision` computes in: n x n x n,
// median of `reps` after a warm-up.
double measure_gemm_tflops(const torch::Device& device, Precision precision, int64_t n = 2048,
                           int reps = 5);

// While alive, LibTorch's profiler (Kineto, CPU activity) records every op with its input shapes
// and the CPU allocator's allocations and frees; the destructor writes the Chrome trace (open it in
// Perfetto or chrome://tracing). For `bench --profile`.
class OpTrace {
 public:
  explicit OpTrace(std::string path);
  ~OpTrace();
  OpTrace(const OpTrace&) = delete;
  OpTrace& operator=(const OpTrace&) = delete;

 private:
  std::string path_;
};

}  // namespace dfer::train
