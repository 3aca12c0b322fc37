// The fused CUDA selective scan as a LibTorch op (see dfer/models/selective_scan_cuda.h): input
// checks, dtype and layout normalisation, allocation on the current stream, and the autograd
// Function around the raw-pointer launchers of cuda/selective_scan_kernel.h. Compiled only when
// CMake built the kernel (DFER_CUDA_SCAN).
#include "dfer/models/selective_scan_cuda.h"

#include "cuda/selective_scan_kernel.h"
#include "dfer/models/layers.h"
#include "dfer/util/error.h"

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <fmt/format.h>

namespace dfer::models {

namespace {

namespace ks = cuda_scan;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool kernel_dtype(at::ScalarType t, ks::DType* out) {
  switch (t) {
    case torch::kFloat32:
      *out = ks::DType::kFloat32;
      return true;
    case torch::kBFloat16:
      *out = ks::DType::kBFloat16;
      return true;
    case torch::kFloat16:
      *out = ks::DType::kFloat16;
      return true;
    default:
      return false;
  }
}

std::string shape_or_dash(const torch::Tensor& t) {
  return t.defined() ? shape_str(t.sizes()) : "-";
}

void check_inputs(const torch::Tensor& u, const torch::Tensor& delta, const torch::Tensor& A,
                  const torch::Tensor& Bm, const torch::Tensor& Cm, const torch::Tensor& D,
                  const torch::Tensor& z, const torch::Tensor& delta_bias) {
  auto fail = [&](const std::string& what) {
    throw Error(fmt::format(
        "selective_scan_cuda: {} (u {}, delta {}, A {}, B {}, C {}, D {}, z {}, delta_bias {})",
        what, shape_or_dash(u), shape_or_dash(delta), shape_or_dash(A), shape_or_dash(Bm),
        shape_or_dash(Cm), shape_or_dash(D), shape_or_dash(z), shape_or_dash(delta_bias)));
  };
  if (!u.defined() || u.dim() != 3 || !delta.defined() || delta.sizes() != u.sizes())
    fail("u and delta must both be (B, E, L)");
  const int64_t B = u.size(0), E = u.size(1), L = u.size(2);
  if (!A.defined() || A.dim() != 2 || A.size(0) != E) fail("A must be (E, N)");
  const int64_t N = A.size(1);
  const std::vector<int64_t> bnl{B, N, L};
  if (!Bm.defined() || !Cm.defined() || Bm.sizes() != c10::IntArrayRef(bnl) ||
      Cm.sizes() != c10::IntArrayRef(bnl))
    fail("B and C must be (B, N, L)");
  if (z.defined() && z.sizes() != u.sizes()) fail("z must be (B, E, L)");
  for (const auto* v : {&D, &delta_bias})
    if (v->defined() && (v->dim() != 1 || v->size(0) != E)) fail("D and delta_bias must be (E)");
  ks::DType dt;
  if (!selective_scan_cuda_supports(u, A))
    fail(
        fmt::format("the kernel needs CUDA tensors in fp32/bf16/fp16, 1 <= N <= {}, "
                    "1 <= B <= 65535 and E, L >= 1 (u is {} on {})",
                    ks::kMaxState, c10::toString(u.scalar_type()), u.device().str()));
  for (const auto* v : {&delta, &A, &Bm, &Cm, &D, &z, &delta_bias})
    if (v->defined() && v->device() != u.device())
      fail("every tensor must be on u's device " + u.device().str());
  for (const auto* v : {&delta, &Bm, &Cm, &z})
    if (v->defined() && !kernel_dtype(v->scalar_type(), &dt))
      fail("delta, B, C and z must be fp32, bf16 or fp16");
}

// The kernel reads rows along L with unit stride; batch and row strides may be anything (u and z
// are usually column halves of one projection).
torch::Tensor unit_last_stride(const torch::Tensor& t) {
  return t.stride(2) == 1 || t.size(2) == 1 ? t : t.contiguous();
}

ks::View3 view_of(const torch::Tensor& t) {
  if (!t.defined()) return {};
  return {t.data_ptr(), t.stride(0), t.stride(1)};
}

const float* f32_or_null(const torch::Tensor& t) {
  return t.defined() ? t.data_ptr<float>() : nullptr;
}

ks::ScanArgs args_of(const torch::Tensor& u, const torch::Tensor& delta, const torch::Tensor& A,
                     const torch::Tensor& Bm, const torch::Tensor& Cm, const torch::Tensor& D,
                     const torch::Tensor& z, const torch::Tensor& delta_bias, bool softplus) {
  ks::ScanArgs a;
  a.batch = u.size(0);
  a.dim = u.size(1);
  a.length = u.size(2);
  a.dstate = A.size(1);
  kernel_dtype(u.scalar_type(), &a.dtype);
  a.u = view_of(u);
  a.delta = view_of(delta);
  a.z = view_of(z);
  a.Bm = view_of(Bm);
  a.Cm = view_of(Cm);
  a.A = A.data_ptr<float>();
  a.D = f32_or_null(D);
  a.delta_bias = f32_or_null(delta_bias);
  a.softplus = softplus;
  return a;
}

void check_launch(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw Error(fmt::format("selective_scan_cuda: {} kernel: {}", what, cudaGetErrorString(err)));
}

// Inputs arrive normalised: u, delta, z, Bm, Cm of one dtype with unit stride along L; A, D and
// delta_bias fp32 and contiguous.
struct CudaScanFn : public torch::autograd::Function<CudaScanFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& u,
                               const torch::Tensor& delta, const torch::Tensor& A,
                               const torch::Tensor& Bm, const torch::Tensor& Cm,
                               const torch::Tensor& D, const torch::Tensor& z,
                               const torch::Tensor& delta_bias, bool softplus) {
    const c10::cuda::CUDAGuard device(u.device());
    const auto a = args_of(u, delta, A, Bm, Cm, D, z, delta_bias, softplus);
    auto out = torch::empty(u.sizes(), u.options());
    auto states = torch::empty({a.batch, a.dim, ks::num_chunks(a.length), a.dstate},
                               u.options().dtype(torch::kFloat32));
    check_launch(ks::scan_forward(a, out.data_ptr(), states.data_ptr<float>(),
                                  c10::cuda::getCurrentCUDAStream(u.device().index())),
                 "forward");
    ctx->save_for_backward({u, delta, A, Bm, Cm, D, z, delta_bias, states});
    ctx->saved_data["softplus"] = softplus;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    const auto s = ctx->get_saved_variables();
    const auto &u = s[0], &delta = s[1], &A = s[2], &Bm = s[3], &Cm = s[4];
    const auto &D = s[5], &z = s[6], &delta_bias = s[7], &states = s[8];
    const c10::cuda::CUDAGuard device(u.device());
    const auto a =
        args_of(u, delta, A, Bm, Cm, D, z, delta_bias, ctx->saved_data["softplus"].toBool());
    const auto gout = grad_out[0].defined() ? grad_out[0].to(u.scalar_type()).contiguous()
                                            : torch::zeros(u.sizes(), u.options());
    const auto f32 = u.options().dtype(torch::kFloat32);
    auto du = torch::empty(u.sizes(), u.options()), ddelta = torch::empty(u.sizes(), u.options());
    auto dz = z.defined() ? torch::empty(u.sizes(), u.options()) : torch::Tensor();
    auto dA = torch::zeros({a.dim, a.dstate}, f32);
    auto dB = torch::zeros({a.batch, a.dstate, a.length}, f32), dC = torch::zeros_like(dB);
    auto dD = D.defined() ? torch::zeros({a.dim}, f32) : torch::Tensor();
    auto dbias = delta_bias.defined() ? torch::zeros({a.dim}, f32) : torch::Tensor();
    ks::ScanGrads g;
    g.gout = gout.data_ptr();
    g.du = du.data_ptr();
    g.ddelta = ddelta.data_ptr();
    g.dz = dz.defined() ? dz.data_ptr() : nullptr;
    g.dA = dA.data_ptr<float>();
    g.dB = dB.data_ptr<float>();
    g.dC = dC.data_ptr<float>();
    g.dD = dD.defined() ? dD.data_ptr<float>() : nullptr;
    g.ddelta_bias = dbias.defined() ? dbias.data_ptr<float>() : nullptr;
    check_launch(ks::scan_backward(a, states.data_ptr<float>(), g,
                                   c10::cuda::getCurrentCUDAStream(u.device().index())),
                 "backward");
    return {du, ddelta, dA,    dB.to(Bm.scalar_type()), dC.to(Cm.scalar_type()),
            dD, dz,     dbias, torch::Tensor()};
  }
};

}  // namespace

bool selective_scan_cuda_supports(const torch::Tensor& u, const torch::Tensor& A) {
  ks::DType dt;
  return u.defined() && A.defined() && u.is_cuda() && u.dim() == 3 && A.dim() == 2 &&
         kernel_dtype(u.scalar_type(), &dt) && A.size(1) >= 1 && A.size(1) <= ks::kMaxState &&
         u.size(0) >= 1 && u.size(0) <= 65535 && u.size(1) >= 1 && u.size(2) >= 1;
}

torch::Tensor selective_scan_cuda(const torch::Tensor& u, const torch::Tensor& delta,
                                  const torch::Tensor& A, const torch::Tensor& Bm,
                                  const torch::Tensor& Cm, const torch::Tensor& D,
                                  const torch::Tensor& z, const torch::Tensor& delta_bias,
                                  bool delta_softplus) {
  check_inputs(u, delta, A, Bm, Cm, D, z, delta_bias);
  // The scan is fp32 inside whatever autocast says; the casts below stay differentiable.
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  bool one_dtype = true;
  for (const auto* v : {&delta, &Bm, &Cm, &z})
    if (v->defined() && v->scalar_type() != u.scalar_type()) one_dtype = false;
  const auto io = one_dtype ? u.scalar_type() : torch::kFloat32;
  auto io_of = [&](const torch::Tensor& t) { return t.defined() ? unit_last_stride(t.to(io)) : t; };
  auto f32_of = [](const torch::Tensor& t) {
    return t.defined() ? t.to(torch::kFloat32).contiguous() : t;
  };
  auto out = CudaScanFn::apply(io_of(u), io_of(delta), f32_of(A), io_of(Bm), io_of(Cm), f32_of(D),
                               io_of(z), f32_of(delta_bias), delta_softplus);
  return out.to(u.scalar_type());
}

}  // namespace dfer::models
