// VideoMamba: the chunked selective scan against the sequential loop (values and gradients, in
// double), its gradient against finite differences, and the mixer, block and model structure.
#include <catch2/catch.hpp>

#include "dfer/models/selective_scan.h"
#include "dfer/util/error.h"

#include <ATen/autocast_mode.h>

using namespace dfer::models;

namespace {

// Inputs of one scan in the upstream layouts; A negative as -exp(A_log).
struct ScanInputs {
  torch::Tensor u, delta, A, Bm, Cm, D, z, delta_bias;

  std::vector<torch::Tensor*> all() { return {&u, &delta, &A, &Bm, &Cm, &D, &z, &delta_bias}; }
};

ScanInputs random_inputs(int64_t B, int64_t E, int64_t N, int64_t L, bool optional_terms,
                         torch::Dtype dtype = torch::kFloat64) {
  auto o = torch::TensorOptions().dtype(dtype);
  ScanInputs s;
  s.u = torch::randn({B, E, L}, o);
  s.delta = torch::randn({B, E, L}, o) * 0.5;
  s.A = -torch::exp(torch::log(torch::arange(1, N + 1, o)).expand({E, N}) +
                    0.3 * torch::randn({E, N}, o));
  s.Bm = torch::randn({B, N, L}, o);
  s.Cm = torch::randn({B, N, L}, o);
  if (optional_terms) {
    s.D = torch::randn({E}, o);
    s.z = torch::randn({B, E, L}, o);
    s.delta_bias = torch::randn({E}, o) * 0.5;
  }
  return s;
}

torch::Tensor run_reference(const ScanInputs& s) {
  return selective_scan_reference(s.u, s.delta, s.A, s.Bm, s.Cm, s.D, s.z, s.delta_bias);
}

torch::Tensor run_chunked(const ScanInputs& s, int64_t chunk, ScanAlgorithm alg) {
  return selective_scan_chunked(s.u, s.delta, s.A, s.Bm, s.Cm, s.D, s.z, s.delta_bias, true, chunk,
                                alg);
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

}  // namespace

TEST_CASE("chunked selective scan equals the sequential loop (double)", "[models][mamba][scan]") {
  torch::manual_seed(1);
  struct Shape {
    int64_t B, E, N, L;
  };
  for (auto sh : {Shape{2, 3, 4, 17}, Shape{1, 5, 16, 64}, Shape{3, 2, 1, 1}, Shape{2, 4, 8, 33}}) {
    for (bool opt : {false, true}) {
      auto in = random_inputs(sh.B, sh.E, sh.N, sh.L, opt);
      auto ref = run_reference(in);
      REQUIRE(ref.sizes() == in.u.sizes());
      for (int64_t chunk : {int64_t{1}, int64_t{4}, int64_t{7}, int64_t{16}, int64_t{1000}}) {
        for (auto alg : {ScanAlgorithm::kSequential, ScanAlgorithm::kLogDepth}) {
          INFO("B " << sh.B << " E " << sh.E << " N " << sh.N << " L " << sh.L << " chunk " << chunk
                    << " log-depth " << (alg == ScanAlgorithm::kLogDepth) << " optional terms "
                    << opt);
          auto out = run_chunked(in, chunk, alg);
          CHECK(out.scalar_type() == torch::kFloat64);
          CHECK(max_diff(out, ref) < 1e-12 * std::max(1.0, ref.abs().max().item<double>()));
        }
      }
    }
  }
}

TEST_CASE("selective scan follows the recurrence written out by hand", "[models][mamba][scan]") {
  // One channel, one state, three steps: h = e^{dt A} h + dt B u, y = C h + D u, times SiLU(z).
  auto o = torch::TensorOptions().dtype(torch::kFloat64);
  auto u = torch::tensor({1.0, -2.0, 0.5}, o).view({1, 1, 3});
  auto delta = torch::tensor({0.1, 25.0, -1.0}, o).view({1, 1, 3});  // 25: softplus threshold
  auto A = torch::tensor({-2.0}, o).view({1, 1});
  auto Bm = torch::tensor({1.0, 0.5, 2.0}, o).view({1, 1, 3});
  auto Cm = torch::tensor({0.3, 1.0, -1.0}, o).view({1, 1, 3});
  auto D = torch::tensor({0.7}, o), z = torch::tensor({0.2, -0.4, 1.5}, o).view({1, 1, 3});
  auto bias = torch::tensor({0.05}, o);
  auto sp = [](double x) { return x > 20 ? x : std::log1p(std::exp(x)); };
  auto silu = [](double x) { return x / (1 + std::exp(-x)); };
  double h = 0;
  std::vector<double> expect;
  for (int t = 0; t < 3; ++t) {
    double dt = sp(delta[0][0][t].item<double>() + 0.05);
    h = std::exp(dt * -2.0) * h + dt * Bm[0][0][t].item<double>() * u[0][0][t].item<double>();
    double y = Cm[0][0][t].item<double>() * h + 0.7 * u[0][0][t].item<double>();
    expect.push_back(y * silu(z[0][0][t].item<double>()));
  }
  auto want = torch::tensor(expect, o).view({1, 1, 3});
  CHECK(max_diff(selective_scan_reference(u, delta, A, Bm, Cm, D, z, bias), want) < 1e-12);
  CHECK(max_diff(selective_scan(u, delta, A, Bm, Cm, D, z, bias, true, 2), want) < 1e-12);
}

TEST_CASE("chunked scan gradients equal autograd through the sequential loop",
          "[models][mamba][scan]") {
  torch::manual_seed(2);
  for (auto alg : {ScanAlgorithm::kSequential, ScanAlgorithm::kLogDepth}) {
    for (int64_t chunk : {int64_t{1}, int64_t{5}, int64_t{64}}) {
      auto in = random_inputs(2, 3, 4, 13, true);
      for (auto* t : in.all()) t->requires_grad_(true);
      auto w = torch::randn({2, 3, 13}, torch::kFloat64);
      auto ref_grads =
          torch::autograd::grad({(run_reference(in) * w).sum()},
                                {in.u, in.delta, in.A, in.Bm, in.Cm, in.D, in.z, in.delta_bias});
      auto grads =
          torch::autograd::grad({(run_chunked(in, chunk, alg) * w).sum()},
                                {in.u, in.delta, in.A, in.Bm, in.Cm, in.D, in.z, in.delta_bias});
      const char* names[] = {"u", "delta", "A", "B", "C", "D", "z", "delta_bias"};
      for (size_t i = 0; i < grads.size(); ++i) {
        INFO(names[i] << " chunk " << chunk << " log-depth " << (alg == ScanAlgorithm::kLogDepth));
        CHECK(max_diff(grads[i], ref_grads[i]) <
              1e-11 * std::max(1.0, ref_grads[i].abs().max().item<double>()));
      }
    }
  }
}

TEST_CASE("chunked scan gradients match finite differences (double)", "[models][mamba][scan]") {
  torch::manual_seed(3);
  auto in = random_inputs(1, 2, 3, 7, true);
  for (auto* t : in.all()) t->requires_grad_(true);
  auto w = torch::randn({1, 2, 7}, torch::kFloat64);
  const std::vector<torch::Tensor> leaves{in.u,  in.delta, in.A, in.Bm,
                                          in.Cm, in.D,     in.z, in.delta_bias};
  for (auto alg : {ScanAlgorithm::kSequential, ScanAlgorithm::kLogDepth}) {
    auto loss = [&] { return (run_chunked(in, 3, alg) * w).sum(); };
    auto grads = torch::autograd::grad({loss()}, leaves);
    torch::NoGradGuard ng;
    const double eps = 1e-6;
    double worst = 0;
    int64_t probed = 0;
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
        const double analytic = grads[i].view(-1)[k].item<double>();
        worst = std::max(worst, std::abs(numeric - analytic) / std::max(1.0, std::abs(numeric)));
        ++probed;
      }
    }
    INFO("log-depth " << (alg == ScanAlgorithm::kLogDepth) << ": " << probed
                      << " entries, worst relative error " << worst);
    CHECK(probed == 7 * 2 * 3 + 6 + 7 * 3 * 2 + 2 + 2);
    CHECK(worst < 1e-7);
  }
}

TEST_CASE("selective scan runs in fp32 under bf16 autocast and returns the input dtype",
          "[models][mamba][scan]") {
  torch::manual_seed(4);
  auto in = random_inputs(1, 4, 8, 20, true, torch::kFloat32);
  auto ref = run_reference(in);
  at::autocast::set_autocast_enabled(at::kCPU, true);
  at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
  auto out = run_chunked(in, 8, ScanAlgorithm::kAuto);
  auto out_bf16 = selective_scan(in.u.to(torch::kBFloat16), in.delta, in.A, in.Bm, in.Cm, in.D,
                                 in.z, in.delta_bias);
  at::autocast::set_autocast_enabled(at::kCPU, false);
  CHECK(out.scalar_type() == torch::kFloat32);
  CHECK(max_diff(out, ref) < 1e-4);
  CHECK(out_bf16.scalar_type() == torch::kBFloat16);
}

TEST_CASE("selective scan rejects inconsistent shapes", "[models][mamba][scan]") {
  auto in = random_inputs(1, 2, 3, 5, true);
  CHECK_THROWS_AS(selective_scan(in.u, in.delta, in.A.t(), in.Bm, in.Cm, in.D, in.z, in.delta_bias),
                  dfer::Error);
  CHECK_THROWS_AS(
      selective_scan(in.u, in.delta.narrow(2, 0, 4), in.A, in.Bm, in.Cm, in.D, in.z, in.delta_bias),
      dfer::Error);
  CHECK_THROWS_AS(
      selective_scan(in.u, in.delta, in.A, in.Bm, in.Cm, in.D, in.z, in.delta_bias, true, 0),
      dfer::Error);
}
