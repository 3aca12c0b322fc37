// The fused CPU selective scan as a LibTorch op (see dfer/models/selective_scan_cpu.h): input
// checks, dtype and layout normalisation, the step sizes, and the autograd Function around the
// raw-pointer loops of selective_scan_cpu_kernel.h.
#include "dfer/models/selective_scan_cpu.h"

#include "dfer/models/selective_scan.h"
#include "dfer/util/error.h"
#include "selective_scan_cpu_kernel.h"

#include <fmt/format.h>

namespace dfer::models {

namespace {

namespace ks = cpu_scan;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The loops read along the last axis with unit stride; batch and row strides may be anything
// (u and z are usually the two halves of one projection, Bm and Cm columns of x_proj's output).
torch::Tensor unit_last_stride(const torch::Tensor& t) {
  return t.stride(2) == 1 || t.size(2) == 1 ? t : t.contiguous();
}

template <typename T>
ks::View3<T> view_of(const torch::Tensor& t) {
  if (!t.defined()) return {};
  return {t.data_ptr<T>(), t.stride(0), t.stride(1)};
}

template <typename T>
const T* ptr_or_null(const torch::Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

template <typename T>
T* mut_or_null(torch::Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

// The Function's inputs, in its order: u, dt, A, Bt, Ct, D, z (D and z possibly undefined).
// Bt and Ct are (B, L, N) (see View3 in the kernel header).
template <typename T>
ks::ScanArgs<T> args_of(const variable_list& in, int64_t chunk) {
  const auto &u = in[0], &dt = in[1], &A = in[2], &Bt = in[3], &Ct = in[4], &D = in[5], &z = in[6];
  ks::ScanArgs<T> a;
  a.batch = u.size(0);
  a.dim = u.size(1);
  a.length = u.size(2);
  a.dstate = A.size(1);
  a.chunk = chunk;
  a.u = view_of<T>(u);
  a.dt = view_of<T>(dt);
  a.z = view_of<T>(z);
  a.Bm = view_of<T>(Bt);
  a.Cm = view_of<T>(Ct);
  a.A = A.data_ptr<T>();
  a.D = ptr_or_null<T>(D);
  return a;
}

template <typename T>
torch::Tensor run_forward(const variable_list& in, int64_t chunk, torch::Tensor* states) {
  const auto a = args_of<T>(in, chunk);
  auto out = torch::empty(in[0].sizes(), in[0].options());
  *states =
      torch::empty({a.batch, a.dim, ks::num_chunks(a.length, chunk), a.dstate}, in[0].options());
  ks::scan_forward<T>(a, out.data_ptr<T>(), states->data_ptr<T>());
  return out;
}

// Gradients in the order of the Function's inputs.
template <typename T>
variable_list run_backward(const variable_list& in, const torch::Tensor& states,
                           const torch::Tensor& gout, int64_t chunk) {
  const auto a = args_of<T>(in, chunk);
  const auto &u = in[0], &A = in[2], &Bt = in[3], &D = in[5], &z = in[6];
  auto du = torch::empty(u.sizes(), u.options()), ddt = torch::empty_like(du);
  auto dz = z.defined() ? torch::empty_like(du) : torch::Tensor();
  auto dA = torch::empty(A.sizes(), A.options());
  auto dB = torch::empty(Bt.sizes(), Bt.options()), dC = torch::empty_like(dB);
  auto dD = D.defined() ? torch::empty(D.sizes(), D.options()) : torch::Tensor();
  ks::ScanGrads<T> g;
  g.gout = view_of<T>(gout);
  g.du = du.data_ptr<T>();
  g.ddt = ddt.data_ptr<T>();
  g.dz = mut_or_null<T>(dz);
  g.dA = dA.data_ptr<T>();
  g.dB = dB.data_ptr<T>();
  g.dC = dC.data_ptr<T>();
  g.dD = mut_or_null<T>(dD);
  ks::scan_backward<T>(a, states.data_ptr<T>(), g);
  return {du, ddt, dA, dB, dC, dD, dz};
}

// Which of the optional inputs are real (the others are empty placeholders).
constexpr int64_t kHasD = 1, kHasZ = 2;

// Inputs arrive normalised: one dtype (float or double), u, dt, z with unit stride along L,
// Bt and Ct as (B, L, N) with unit stride along N, A and D contiguous.
struct CpuScanFn : public torch::autograd::Function<CpuScanFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& u,
                               const torch::Tensor& dt, const torch::Tensor& A,
                               const torch::Tensor& Bt, const torch::Tensor& Ct,
                               const torch::Tensor& D, const torch::Tensor& z, int64_t chunk,
                               int64_t present) {
    const variable_list in{u,
                           dt,
                           A,
                           Bt,
                           Ct,
                           (present & kHasD) ? D : torch::Tensor(),
                           (present & kHasZ) ? z : torch::Tensor()};
    torch::Tensor states;
    auto out = u.scalar_type() == torch::kFloat64 ? run_forward<double>(in, chunk, &states)
                                                  : run_forward<float>(in, chunk, &states);
    ctx->save_for_backward({u, dt, A, Bt, Ct, in[5], in[6], states});
    ctx->saved_data["chunk"] = chunk;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    auto in = ctx->get_saved_variables();
    const auto states = in.back();
    in.pop_back();
    const auto& u = in[0];
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const auto gout = grad_out[0].defined() ? unit_last_stride(grad_out[0].to(u.scalar_type()))
                                            : torch::zeros(u.sizes(), u.options());
    auto grads = u.scalar_type() == torch::kFloat64 ? run_backward<double>(in, states, gout, chunk)
                                                    : run_backward<float>(in, states, gout, chunk);
    grads.push_back(torch::Tensor());  // chunk
    grads.push_back(torch::Tensor());  // present
    return grads;
  }
};

}  // namespace

bool selective_scan_cpu_supports(const torch::Tensor& u) {
  return u.defined() && u.is_cpu() && u.dim() == 3 && at::isFloatingType(u.scalar_type());
}

torch::Tensor selective_scan_cpu(const torch::Tensor& u, const torch::Tensor& delta,
                                 const torch::Tensor& A, const torch::Tensor& Bm,
                                 const torch::Tensor& Cm, const torch::Tensor& D,
                                 const torch::Tensor& z, const torch::Tensor& delta_bias,
                                 bool delta_softplus, int64_t chunk) {
  check_selective_scan_shapes(u, delta, A, Bm, Cm, D, z, delta_bias);
  if (chunk <= 0) throw Error(fmt::format("selective_scan: chunk {} must be positive", chunk));
  for (const auto* t : {&u, &delta, &A, &Bm, &Cm, &D, &z, &delta_bias})
    if (t->defined() && (!t->is_cpu() || !at::isFloatingType(t->scalar_type())))
      throw Error(
          fmt::format("selective_scan_cpu: every tensor must be floating point on the CPU "
                      "(got {} on {})",
                      c10::toString(t->scalar_type()), t->device().str()));
  // fp32 arithmetic whatever autocast says (double stays double, for the tests); the casts
  // below stay differentiable, so the gradients return in each input's own dtype.
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  const auto ct = u.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  auto rows = [&](const torch::Tensor& t) { return t.defined() ? unit_last_stride(t.to(ct)) : t; };
  auto flat = [&](const torch::Tensor& t) { return t.defined() ? t.to(ct).contiguous() : t; };
  auto steps = [&](const torch::Tensor& t) { return unit_last_stride(t.to(ct).transpose(1, 2)); };
  // The step sizes by LibTorch, as the other paths do: one vectorised pass over (B, E, L), the
  // same numbers as the reference, and its own softplus backward (threshold 20 included).
  auto dt = delta.to(ct);
  if (delta_bias.defined()) dt = dt + delta_bias.to(ct).view({1, -1, 1});
  if (delta_softplus) dt = torch::softplus(dt);
  // autograd::Function::apply cannot take undefined tensors: absent terms travel as empty
  // placeholders, and a mask says which are real.
  const auto none = torch::empty({0}, u.options().dtype(ct));
  auto or_none = [&](const torch::Tensor& t) { return t.defined() ? t : none; };
  const int64_t present = (D.defined() ? kHasD : 0) | (z.defined() ? kHasZ : 0);
  auto out = CpuScanFn::apply(rows(u), rows(dt), flat(A), steps(Bm), steps(Cm), or_none(flat(D)),
                              or_none(rows(z)), chunk, present);
  return out.to(u.scalar_type());
}

}  // namespace dfer::models
