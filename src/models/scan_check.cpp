// The selective-scan check: the fused CUDA kernel (on a GPU) or the fused CPU scan (on the CPU)
// against the chunked LibTorch scan (see dfer/models/scan_check.h).
#include "dfer/models/scan_check.h"

#include "dfer/models/selective_scan.h"
#include "dfer/models/selective_scan_cpu.h"
#if DFER_CUDA_SCAN
#include "dfer/models/selective_scan_cuda.h"
#endif

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace dfer::models {

namespace {

struct Shape {
  int64_t B, E, N, L;
  bool gated;  // z, D and delta_bias given (the model's case), or all three absent
};

// The inputs of one case. u and z are the two halves of one (B, 2E, L) projection, as in the
// Mamba mixer, so the kernel's strided reads are exercised too.
struct Inputs {
  torch::Tensor xz, delta, A, Bm, Cm, D, delta_bias;
  std::vector<torch::Tensor> leaves() const {
    std::vector<torch::Tensor> v{xz, delta, A, Bm, Cm};
    if (D.defined()) v.insert(v.end(), {D, delta_bias});
    return v;
  }
};

Inputs make_inputs(const Shape& s, torch::ScalarType dtype, torch::Device device) {
  auto io = torch::TensorOptions().dtype(dtype).device(device);
  auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  Inputs in;
  in.xz = torch::randn({s.B, 2 * s.E, s.L}, io);
  in.delta = (torch::randn({s.B, s.E, s.L}, f32) * 0.5 - 1.0).to(dtype);
  // S4D-real decays, A = -(1..N), with some spread per channel.
  in.A = -torch::arange(1, s.N + 1, f32).repeat({s.E, 1}) * torch::rand({s.E, 1}, f32).add(0.5);
  in.Bm = torch::randn({s.B, s.N, s.L}, io);
  in.Cm = torch::randn({s.B, s.N, s.L}, io);
  if (s.gated) {
    in.D = torch::randn({s.E}, f32);
    in.delta_bias = torch::randn({s.E}, f32) * 0.5;
  }
  for (auto* t : {&in.xz, &in.delta, &in.A, &in.Bm, &in.Cm, &in.D, &in.delta_bias})
    if (t->defined()) t->requires_grad_(true);
  return in;
}

using ScanFn = std::function<torch::Tensor(const Inputs&, const Shape&)>;

// Output and the gradient of <out, gout> with respect to every leaf, all as fp32.
std::vector<torch::Tensor> outputs_and_grads(const ScanFn& fn, const Inputs& in, const Shape& s,
                                             const torch::Tensor& gout) {
  auto out = fn(in, s);
  auto grads = torch::autograd::grad({out}, in.leaves(), {gout.to(out.scalar_type())});
  std::vector<torch::Tensor> all{out.detach().to(torch::kFloat32)};
  for (auto& g : grads) all.push_back(g.to(torch::kFloat32));
  return all;
}

// Median milliseconds of `runs` calls of f after one unmeasured call, device synchronised.
double median_ms(const std::function<void()>& f, int runs, torch::Device device) {
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize(device.index());
  };
  f();
  sync();
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    sync();
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// The largest difference relative to the largest reference magnitude.
double relative_error(const torch::Tensor& got, const torch::Tensor& want) {
  const double scale = want.abs().max().item<double>();
  return (got - want).abs().max().item<double>() / std::max(scale, 1e-30);
}

ScanFn chunked_fn() {
  return [](const Inputs& in, const Shape& s) {
    auto u = in.xz.narrow(1, 0, s.E), z = s.gated ? in.xz.narrow(1, s.E, s.E) : torch::Tensor();
    return selective_scan_chunked(u, in.delta, in.A, in.Bm, in.Cm, in.D, z, in.delta_bias);
  };
}

// The chunked scan against the sequential loop: the part of the check any device can run.
void check_chunked_against_loop(torch::Device device, ScanCheckResult& result) {
  torch::manual_seed(0);
  const Shape s{2, 24, 16, 150, true};
  const auto in = make_inputs(s, torch::kFloat32, device);
  torch::NoGradGuard no_grad;
  auto u = in.xz.narrow(1, 0, s.E), z = in.xz.narrow(1, s.E, s.E);
  const auto want =
      selective_scan_reference(u, in.delta, in.A, in.Bm, in.Cm, in.D, z, in.delta_bias);
  const double err = relative_error(chunked_fn()(in, s), want);
  const bool ok = err <= 1e-4;
  result.passed &= ok;
  result.report += fmt::format(
      "chunked scan vs sequential loop, {} fp32 (B {}, E {}, N {}, L {}): "
      "forward {:.1e} {}\n",
      device.str(), s.B, s.E, s.N, s.L, err, ok ? "ok" : "FAIL");
}

ScanFn fused_cpu_fn() {
  return [](const Inputs& in, const Shape& s) {
    auto u = in.xz.narrow(1, 0, s.E), z = s.gated ? in.xz.narrow(1, s.E, s.E) : torch::Tensor();
    return selective_scan_cpu(u, in.delta, in.A, in.Bm, in.Cm, in.D, z, in.delta_bias);
  };
}

// One case: the fused scan `fast` (named `label`) against the chunked scan, forward and every
// input gradient, then the median times of both.
void check_case(const Shape& s, torch::ScalarType dtype, const ScanCheckOptions& o,
                const ScanFn& fast, const std::string& label, ScanCheckResult& result) {
  torch::manual_seed(0);
  const auto in = make_inputs(s, dtype, o.device);
  const auto gout = torch::randn({s.B, s.E, s.L}, in.xz.options().requires_grad(false));
  const auto got = outputs_and_grads(fast, in, s, gout);
  const auto want = outputs_and_grads(chunked_fn(), in, s, gout);
  static const char* names[] = {"out", "dxz", "ddelta", "dA", "dB", "dC", "dD", "ddelta_bias"};
  const double tolerance = dtype == torch::kFloat32 ? 1e-4 : 2e-2;
  double worst = 0;
  std::string worst_name;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = relative_error(got[i], want[i]);
    if (err > worst || worst_name.empty()) worst = err, worst_name = names[i];
  }
  const bool ok = worst <= tolerance;
  result.passed &= ok;

  auto forward = [&](const ScanFn& fn) {
    torch::NoGradGuard no_grad;
    fn(in, s);
  };
  auto both = [&](const ScanFn& fn) { fn(in, s).backward(gout); };
  const double k_fwd = median_ms([&] { forward(fast); }, o.runs, o.device);
  const double k_both = median_ms([&] { both(fast); }, o.runs, o.device);
  const double c_fwd = median_ms([&] { forward(chunked_fn()); }, o.runs, o.device);
  const double c_both = median_ms([&] { both(chunked_fn()); }, o.runs, o.device);
  result.report += fmt::format(
      "B {:>2} E {:>4} N {:>2} L {:>5} {:<4} {}: worst {} {:.1e} (<= {:.0e}) {:<4} | "
      "{} {:8.3f} / {:8.3f} ms, chunked {:8.3f} / {:8.3f} ms (forward / forward+backward)\n",
      s.B, s.E, s.N, s.L, dtype == torch::kFloat32 ? "fp32" : "bf16", s.gated ? "gated" : "plain",
      worst_name, worst, tolerance, ok ? "ok" : "FAIL", label, k_fwd, k_both, c_fwd, c_both);
}

#if DFER_CUDA_SCAN
ScanFn kernel_fn() {
  return [](const Inputs& in, const Shape& s) {
    auto u = in.xz.narrow(1, 0, s.E), z = s.gated ? in.xz.narrow(1, s.E, s.E) : torch::Tensor();
    return selective_scan_cuda(u, in.delta, in.A, in.Bm, in.Cm, in.D, z, in.delta_bias);
  };
}
#endif

}  // namespace

ScanCheckResult check_scan_kernel(const ScanCheckOptions& o) {
  ScanCheckResult result;
  if (!o.device.is_cuda()) {
    result.report += fmt::format(
        "selective-scan CUDA kernel: needs a CUDA device (here {}): kernel comparison skipped\n",
        o.device.str());
    // The fused CPU scan instead, at VideoMamba-S's shape (the times that matter for CPU
    // training) and an odd ungated one.
    result.report += fmt::format("fused CPU scan against the chunked scan, {} intra-op threads:\n",
                                 at::get_num_threads());
    for (const Shape& s : {Shape{2, 768, 16, 1601, true}, Shape{2, 70, 3, 65, false}})
      check_case(s, torch::kFloat32, o, fused_cpu_fn(), "fused cpu", result);
  } else if (!torch::cuda::is_available()) {
    result.passed = false;
    result.report += "selective-scan CUDA kernel: no CUDA device visible: FAIL\n";
    return result;
  } else {
#if DFER_CUDA_SCAN
    // VideoMamba-S at 16x160 (L = 1601); odd sizes (E not a multiple of a block's channels, L
    // not of a chunk, N not a power of two); N <= 4 (the backward's larger shared memory).
    const std::vector<Shape> shapes{{2, 768, 16, 1601, true},
                                    {3, 37, 5, 100, true},
                                    {2, 70, 3, 65, false},
                                    {1, 40, 32, 33, true}};
    for (const auto& s : shapes)
      for (auto dtype : {torch::kFloat32, torch::kBFloat16})
        check_case(s, dtype, o, kernel_fn(), "kernel", result);
#else
    result.passed = false;
    result.report += "selective-scan CUDA kernel: not in this build (CMake found no nvcc): FAIL\n";
#endif
  }
  check_chunked_against_loop(o.device, result);
  result.report += result.passed ? "scan check: PASS\n" : "scan check: FAIL\n";
  return result;
}

}  // namespace dfer::models
