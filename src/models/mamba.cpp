// RMSNorm, the bidirectional Mamba mixer and the Mamba block (see dfer/models/mamba.h).
#include "dfer/models/mamba.h"

#include "dfer/models/layers.h"
#include "dfer/models/selective_scan.h"
#include "dfer/util/error.h"

#include <fmt/format.h>

#include <cmath>

namespace dfer::models {

namespace {

namespace F = torch::nn::functional;

// fp32 for the norm and the SSM parameters whatever the module's dtype, double kept for tests.
at::ScalarType at_least_fp32(const torch::Tensor& t) {
  return t.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
}

}  // namespace

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  return forward(x, x.scalar_type());
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x, at::ScalarType out_dtype) {
  const auto ct = at_least_fp32(x);
  const auto xf = x.to(ct);
  const auto rstd = torch::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return (xf * rstd * weight.to(ct)).to(out_dtype);
}

BiMambaImpl::BiMambaImpl(const MambaOptions& o) : options_(o) {
  if (o.d_model <= 0 || o.d_state <= 0 || o.d_conv <= 0 || o.expand <= 0 || o.scan_chunk <= 0)
    throw Error(fmt::format("BiMamba: bad sizes (d_model {}, d_state {}, d_conv {}, expand {})",
                            o.d_model, o.d_state, o.d_conv, o.expand));
  const int64_t E = o.d_inner(), N = o.d_state, R = o.rank();
  using torch::nn::LinearOptions;
  in_proj =
      register_module("in_proj", torch::nn::Linear(LinearOptions(o.d_model, 2 * E).bias(false)));
  // Depthwise causal convolution: padding k-1 on both sides, the first L outputs are kept.
  auto conv = [&] {
    return torch::nn::Conv1d(
        torch::nn::Conv1dOptions(E, E, o.d_conv).groups(E).padding(o.d_conv - 1).bias(true));
  };
  conv1d = register_module("conv1d", conv());
  x_proj = register_module("x_proj", torch::nn::Linear(LinearOptions(E, R + 2 * N).bias(false)));
  dt_proj = register_module("dt_proj", torch::nn::Linear(LinearOptions(R, E).bias(true)));
  A_log = register_parameter("A_log", torch::empty({E, N}));
  D = register_parameter("D", torch::empty({E}));
  out_proj =
      register_module("out_proj", torch::nn::Linear(LinearOptions(E, o.d_model).bias(false)));
  conv1d_b = register_module("conv1d_b", conv());
  x_proj_b =
      register_module("x_proj_b", torch::nn::Linear(LinearOptions(E, R + 2 * N).bias(false)));
  dt_proj_b = register_module("dt_proj_b", torch::nn::Linear(LinearOptions(R, E).bias(true)));
  A_b_log = register_parameter("A_b_log", torch::empty({E, N}));
  D_b = register_parameter("D_b", torch::empty({E}));
  reset_parameters();
}

void BiMambaImpl::reset_parameters() {
  torch::NoGradGuard guard;
  const int64_t E = options_.d_inner(), N = options_.d_state;
  const double std = std::pow(static_cast<double>(options_.rank()), -0.5);
  const double lo = std::log(1e-3), hi = std::log(0.1);
  for (auto* m : {&in_proj, &x_proj, &x_proj_b, &out_proj}) (*m)->reset_parameters();
  conv1d->reset_parameters();
  conv1d_b->reset_parameters();
  for (auto* dtp : {&dt_proj, &dt_proj_b}) {
    (*dtp)->weight.uniform_(-std, std);
    auto dt = torch::exp(torch::rand({E}) * (hi - lo) + lo).clamp_min(1e-4);
    (*dtp)->bias.copy_(dt + torch::log(-torch::expm1(-dt)));  // softplus^-1(dt)
  }
  auto s4d = torch::log(torch::arange(1, N + 1, torch::kFloat32)).expand({E, N});
  A_log.copy_(s4d);
  A_b_log.copy_(s4d);
  D.fill_(1.0);
  D_b.fill_(1.0);
}

torch::Tensor BiMambaImpl::direction(const torch::Tensor& xz, bool backward) {
  const int64_t E = options_.d_inner(), N = options_.d_state, R = options_.rank();
  const int64_t L = xz.size(2);
  auto& conv = backward ? conv1d_b : conv1d;
  auto& xp = backward ? x_proj_b : x_proj;
  auto& dtp = backward ? dt_proj_b : dt_proj;
  const auto& a_log = backward ? A_b_log : A_log;
  const auto& d = backward ? D_b : D;

  auto x = xz.narrow(1, 0, E), z = xz.narrow(1, E, E);
  auto u = torch::silu(
      F::conv1d(x, conv->weight,
                F::Conv1dFuncOptions().bias(conv->bias).padding(options_.d_conv - 1).groups(E))
          .narrow(2, 0, L));
  auto x_dbl = at::linear(u.transpose(1, 2), xp->weight);                    // (B, L, R + 2N)
  auto dt = at::linear(x_dbl.narrow(2, 0, R), dtp->weight).transpose(1, 2);  // (B, E, L), no bias
  auto Bm = x_dbl.narrow(2, R, N).transpose(1, 2);                           // (B, N, L)
  auto Cm = x_dbl.narrow(2, R + N, N).transpose(1, 2);
  const auto ct = at_least_fp32(a_log);
  auto A = -torch::exp(a_log.to(ct));
  // The bias of dt_proj enters inside the scan, before the softplus, in fp32.
  return selective_scan(u, dt, A, Bm, Cm, d.to(ct), z, dtp->bias.to(ct), /*delta_softplus=*/true,
                        options_.scan_chunk);
}

torch::Tensor BiMambaImpl::forward(const torch::Tensor& hidden) {
  if (hidden.dim() != 3 || hidden.size(2) != options_.d_model)
    throw Error(fmt::format("BiMamba: input {} is not (B, L, {})", shape_str(hidden.sizes()),
                            options_.d_model));
  // Channels first as upstream, so the backward direction flips x and z together in time.
  auto xz = linear(in_proj, hidden).transpose(1, 2);  // (B, 2E, L)
  auto y_f = direction(xz, /*backward=*/false);
  auto y_b = direction(xz.flip({2}), /*backward=*/true);
  return linear(out_proj, (y_f + y_b.flip({2})).transpose(1, 2));
}

torch::Tensor add_residual(const torch::Tensor& hidden, const torch::Tensor& residual,
                           double drop_path_rate, bool training) {
  auto r = residual.defined() ? residual + drop_path(hidden, drop_path_rate, training) : hidden;
  return r.to(at_least_fp32(r));
}

MambaBlockImpl::MambaBlockImpl(const MambaOptions& options, double drop_path, double norm_eps)
    : drop_path_(drop_path) {
  mixer = register_module("mixer", BiMamba(options));
  norm = register_module("norm", RMSNorm(options.d_model, norm_eps));
}

std::pair<torch::Tensor, torch::Tensor> MambaBlockImpl::forward(const torch::Tensor& hidden,
                                                                const torch::Tensor& residual) {
  auto res = add_residual(hidden, residual, drop_path_, is_training());
  // The norm returns the incoming hidden dtype, as upstream's fused add+norm does.
  auto out = mixer(norm->forward(res, hidden.scalar_type()));
  return {out, res};
}

}  // namespace dfer::models
