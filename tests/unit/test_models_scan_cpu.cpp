// The fused CPU selective scan: values against the sequential loop and gradients against the
// chunked LibTorch scan (double, shapes around the chunk length, every optional term on and off,
// several worker splits), finite differences, fp32 against double at VideoMamba-S's channel
// count, bf16 under autocast, and the dispatch of selective_scan().
#include <catch2/catch.hpp>

#include "dfer/models/selective_scan.h"
#include "dfer/models/selective_scan_cpu.h"
#include "dfer/util/error.h"

#include <ATen/Parallel.h>
#include "support/cpu_autocast.h"

#include <cstdlib>
#include <cstring>

using namespace dfer::models;

namespace {

struct Case {
  int64_t B, E, N, L, chunk;
  bool optional_terms;  // z, D and delta_bias given, or all three absent
  bool softplus;
};

struct ScanInputs {
  torch::Tensor u, delta, A, Bm, Cm, D, z, delta_bias;
  std::vector<torch::Tensor> leaves() const { return {u, delta, A, Bm, Cm, D, z, delta_bias}; }
};

// A negative as -exp(A_log), spread around S4D-real. Without the softplus the raw delta is the
// step itself, so it is kept positive. A few raw steps above 20 exercise softplus's threshold.
ScanInputs random_inputs(const Case& c, torch::Dtype dtype = torch::kFloat64) {
  auto o = torch::TensorOptions().dtype(dtype);
  ScanInputs s;
  s.u = torch::randn({c.B, c.E, c.L}, o);
  s.delta = torch::randn({c.B, c.E, c.L}, o) * 0.5;
  if (!c.softplus) s.delta = s.delta.abs();
  if (c.softplus && c.L > 3) s.delta.select(2, 3).fill_(20.5);
  s.A = -torch::exp(torch::log(torch::arange(1, c.N + 1, o)).expand({c.E, c.N}) +
                    0.3 * torch::randn({c.E, c.N}, o));
  s.Bm = torch::randn({c.B, c.N, c.L}, o);
  s.Cm = torch::randn({c.B, c.N, c.L}, o);
  if (c.optional_terms) {
    s.D = torch::randn({c.E}, o);
    s.z = torch::randn({c.B, c.E, c.L}, o);
    s.delta_bias = torch::randn({c.E}, o) * 0.5;
  }
  return s;
}

void require_grad(ScanInputs& s) {
  for (auto* t : {&s.u, &s.delta, &s.A, &s.Bm, &s.Cm, &s.D, &s.z, &s.delta_bias})
    if (t->defined()) t->requires_grad_(true);
}

torch::Tensor run_fused(const ScanInputs& s, const Case& c) {
  return selective_scan_cpu(s.u, s.delta, s.A, s.Bm, s.Cm, s.D, s.z, s.delta_bias, c.softplus,
                            c.chunk);
}

torch::Tensor run_chunked(const ScanInputs& s, const Case& c) {
  return selective_scan_chunked(s.u, s.delta, s.A, s.Bm, s.Cm, s.D, s.z, s.delta_bias, c.softplus,
                                c.chunk);
}

// Gradients of <out, w> for every defined leaf (undefined where the leaf is absent).
std::vector<torch::Tensor> grads_of(const torch::Tensor& out, const ScanInputs& s,
                                    const torch::Tensor& w) {
  std::vector<torch::Tensor> leaves, all;
  for (const auto& t : s.leaves())
    if (t.defined()) leaves.push_back(t);
  auto g = torch::autograd::grad({(out * w).sum()}, leaves);
  size_t k = 0;
  for (const auto& t : s.leaves()) all.push_back(t.defined() ? g[k++] : torch::Tensor());
  return all;
}

// The largest difference relative to the larger of 1 and the largest reference magnitude.
double rel_diff(const torch::Tensor& got, const torch::Tensor& want) {
  const double scale = std::max(1.0, want.abs().max().item<double>());
  return (got.to(torch::kFloat64) - want.to(torch::kFloat64)).abs().max().item<double>() / scale;
}

const char* kNames[] = {"u", "delta", "A", "B", "C", "D", "z", "delta_bias"};

// L not a multiple of the chunk, L below it, a chunk of one step, N of one, the model's N.
const std::vector<Case> kCases{{2, 3, 4, 13, 5, true, true},    {2, 3, 4, 13, 5, false, true},
                               {2, 3, 4, 13, 5, true, false},   {1, 5, 16, 100, 64, true, true},
                               {3, 2, 3, 10, 64, true, true},   {2, 4, 1, 9, 1, false, false},
                               {1, 3, 16, 130, 64, false, true}};

}  // namespace

TEST_CASE("fused CPU scan equals the sequential loop (double)", "[models][mamba][scan]") {
  torch::manual_seed(11);
  for (const auto& c : kCases) {
    const auto in = random_inputs(c);
    const auto want = selective_scan_reference(in.u, in.delta, in.A, in.Bm, in.Cm, in.D, in.z,
                                               in.delta_bias, c.softplus);
    const auto got = run_fused(in, c);
    INFO("B " << c.B << " E " << c.E << " N " << c.N << " L " << c.L << " chunk " << c.chunk
              << " optional " << c.optional_terms << " softplus " << c.softplus);
    CHECK(got.scalar_type() == torch::kFloat64);
    CHECK(rel_diff(got, want) < 1e-12);
  }
}

TEST_CASE("fused CPU scan reads strided halves and transposed B and C as the mixer passes them",
          "[models][mamba][scan]") {
  torch::manual_seed(12);
  const int64_t B = 2, E = 5, N = 4, L = 70, R = 3;
  auto o = torch::TensorOptions().dtype(torch::kFloat64);
  auto xz = torch::randn({B, 2 * E, L}, o);
  auto x_dbl = torch::randn({B, L, R + 2 * N}, o);  // x_proj's output: B and C are its columns
  auto u = xz.narrow(1, 0, E), z = xz.narrow(1, E, E);
  auto delta = torch::randn({B, L, E}, o).transpose(1, 2) * 0.5;
  auto Bm = x_dbl.narrow(2, R, N).transpose(1, 2), Cm = x_dbl.narrow(2, R + N, N).transpose(1, 2);
  auto A = -torch::rand({E, N}, o).add(0.5), D = torch::randn({E}, o), bias = torch::randn({E}, o);
  const auto want = selective_scan_reference(u, delta, A, Bm, Cm, D, z, bias);
  CHECK(rel_diff(selective_scan_cpu(u, delta, A, Bm, Cm, D, z, bias, true, 16), want) < 1e-12);
}

TEST_CASE("fused CPU scan gradients equal the chunked scan's (double)", "[models][mamba][scan]") {
  torch::manual_seed(13);
  // 1 worker, then splits whose boundaries fall inside a batch row (3 workers over 2 x 3 rows).
  const int threads_before = at::get_num_threads();
  for (int threads : {1, 3}) {
    at::set_num_threads(threads);
    for (const auto& c : kCases) {
      auto in = random_inputs(c);
      require_grad(in);
      const auto w = torch::randn({c.B, c.E, c.L}, torch::kFloat64);
      const auto want = grads_of(run_chunked(in, c), in, w);
      const auto got = grads_of(run_fused(in, c), in, w);
      for (size_t i = 0; i < got.size(); ++i) {
        INFO(kNames[i] << ": threads " << threads << " B " << c.B << " E " << c.E << " N " << c.N
                       << " L " << c.L << " chunk " << c.chunk << " optional " << c.optional_terms
                       << " softplus " << c.softplus);
        REQUIRE(got[i].defined() == want[i].defined());
        if (got[i].defined()) CHECK(rel_diff(got[i], want[i]) < 1e-10);
      }
    }
  }
  at::set_num_threads(threads_before);
}

TEST_CASE("fused CPU scan gradients match finite differences (double)", "[models][mamba][scan]") {
  torch::manual_seed(14);
  const Case c{1, 2, 3, 7, 3, true, true};
  auto in = random_inputs(c);
  require_grad(in);
  const auto w = torch::randn({1, 2, 7}, torch::kFloat64);
  const auto leaves = in.leaves();
  auto loss = [&] { return (run_fused(in, c) * w).sum(); };
  const auto grads = torch::autograd::grad({loss()}, leaves);
  torch::NoGradGuard no_grad;
  const double eps = 1e-6;
  double worst = 0;
  for (size_t i = 0; i < leaves.size(); ++i) {
    auto flat = leaves[i].data().view(-1);
    for (int64_t k = 0; k < flat.numel(); ++k) {
      const double v = flat[k].item<double>();
      flat[k] = v + eps;
      const double up = loss().item<double>();
      flat[k] = v - eps;
      const double down = loss().item<double>();
      flat[k] = v;
      const double numeric = (up - down) / (2 * eps);
      const double analytic = grads[i].reshape(-1)[k].item<double>();
      worst = std::max(worst, std::abs(numeric - analytic) / std::max(1.0, std::abs(numeric)));
    }
  }
  INFO("worst relative error " << worst);
  CHECK(worst < 1e-7);
}

TEST_CASE("fused CPU scan in fp32 agrees with double at VideoMamba-S's channel count",
          "[models][mamba][scan]") {
  torch::manual_seed(15);
  const Case c{2, 768, 16, 150, 64, true, true};
  auto in64 = random_inputs(c);
  ScanInputs in32;
  in32.u = in64.u.to(torch::kFloat32);
  in32.delta = in64.delta.to(torch::kFloat32);
  in32.A = in64.A.to(torch::kFloat32);
  in32.Bm = in64.Bm.to(torch::kFloat32);
  in32.Cm = in64.Cm.to(torch::kFloat32);
  in32.D = in64.D.to(torch::kFloat32);
  in32.z = in64.z.to(torch::kFloat32);
  in32.delta_bias = in64.delta_bias.to(torch::kFloat32);
  require_grad(in64);
  require_grad(in32);
  const auto w = torch::randn({c.B, c.E, c.L}, torch::kFloat64);
  const auto out64 = run_fused(in64, c), out32 = run_fused(in32, c);
  CHECK(out32.scalar_type() == torch::kFloat32);
  // fp32 rounding over a recurrence of 150 steps and sums over 16 states and (for dB, dC) over
  // 768 channels: 1e-5 of the largest magnitude leaves a margin of about ten over what it is.
  CHECK(rel_diff(out32, out64) < 1e-5);
  const auto g64 = grads_of(out64, in64, w), g32 = grads_of(out32, in32, w.to(torch::kFloat32));
  for (size_t i = 0; i < g64.size(); ++i) {
    INFO(kNames[i]);
    CHECK(g32[i].scalar_type() == torch::kFloat32);
    CHECK(rel_diff(g32[i], g64[i]) < 1e-5);
  }
}

TEST_CASE("fused CPU scan computes bf16 inputs in fp32 under autocast and casts back",
          "[models][mamba][scan]") {
  torch::manual_seed(16);
  const Case c{1, 6, 8, 40, 16, true, true};
  auto in = random_inputs(c, torch::kFloat32);
  for (auto* t : {&in.u, &in.delta, &in.Bm, &in.Cm, &in.z}) *t = t->to(torch::kBFloat16);
  // The fp32 loop over the very same (bf16-rounded) values, rounded to bf16 once at the end.
  auto f32 = [](const torch::Tensor& t) { return t.to(torch::kFloat32); };
  const auto want = selective_scan_reference(f32(in.u), f32(in.delta), in.A, f32(in.Bm), f32(in.Cm),
                                             in.D, f32(in.z), in.delta_bias);
  require_grad(in);
  torch::Tensor out;
  {
    dfer::test::CpuAutocast autocast(at::kBFloat16);
    out = selective_scan(in.u, in.delta, in.A, in.Bm, in.Cm, in.D, in.z, in.delta_bias);
  }
  CHECK(out.scalar_type() == torch::kBFloat16);
  // Each value within one bf16 rounding (2^-8 relative) of the fp32 result.
  const auto err = (f32(out) - want).abs() - want.abs() * std::ldexp(1.0, -8);
  CHECK(err.max().item<double>() <= 1e-6);
  const auto grads = torch::autograd::grad({f32(out).sum()}, {in.u, in.Bm, in.A});
  CHECK(grads[0].scalar_type() == torch::kBFloat16);
  CHECK(grads[1].scalar_type() == torch::kBFloat16);
  CHECK(grads[2].scalar_type() == torch::kFloat32);
}

TEST_CASE("selective_scan sends CPU tensors to the fused scan unless DFER_SCAN says chunked",
          "[models][mamba][scan]") {
  torch::manual_seed(17);
  const Case c{2, 3, 4, 13, 5, true, true};
  auto in = random_inputs(c, torch::kFloat32);
  const char* env = std::getenv("DFER_SCAN");
  const bool chunked = env != nullptr && std::strcmp(env, "chunked") == 0;
  const auto got =
      selective_scan(in.u, in.delta, in.A, in.Bm, in.Cm, in.D, in.z, in.delta_bias, true, c.chunk);
  const auto want = chunked ? run_chunked(in, c) : run_fused(in, c);
  CHECK(torch::equal(got, want));
  CHECK_THROWS_AS(
      selective_scan_cpu(in.u, in.delta, in.A, in.Bm, in.Cm, in.D, in.z, in.delta_bias, true, 0),
      dfer::Error);
}
