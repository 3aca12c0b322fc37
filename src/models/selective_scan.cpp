// The Mamba selective scan: sequential reference and the chunked scan with a recomputing backward
// (see dfer/models/selective_scan.h; the mathematics is SPEC-videomamba §2.4).
#include "dfer/models/selective_scan.h"

#include "dfer/models/layers.h"
#include "dfer/models/selective_scan_cpu.h"
#include "dfer/util/error.h"

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#if DFER_CUDA_SCAN
#include "dfer/models/selective_scan_cuda.h"
#endif

namespace dfer::models {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// fp32 arithmetic for every floating input (bf16/fp16 under autocast included); double stays
// double so the tests can compare algorithms at 1e-12.
at::ScalarType compute_dtype(const torch::Tensor& u) {
  return u.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
}

torch::Tensor cast(const torch::Tensor& t, at::ScalarType dt) {
  return t.defined() ? t.to(dt) : t;
}

// dt = softplus(delta + delta_bias) in the compute dtype (torch's threshold 20 is the default).
torch::Tensor step_sizes(const torch::Tensor& delta, const torch::Tensor& delta_bias,
                         bool softplus) {
  auto dt = delta_bias.defined() ? delta + delta_bias.view({1, -1, 1}) : delta;
  return softplus ? torch::softplus(dt) : dt;
}

// y = core + D u, out = y * SiLU(z): the per-token terms around the recurrence.
torch::Tensor finish(torch::Tensor y, const torch::Tensor& u, const torch::Tensor& D,
                     const torch::Tensor& z) {
  if (D.defined()) y = y + u * D.view({1, -1, 1});
  if (z.defined()) y = y * torch::silu(z);
  return y;
}

// DFER_SCAN=chunked in the environment keeps CPU and CUDA tensors on the chunked path: the GPU
// check and benchmarks compare the paths with the same binary. Read once.
bool fused_wanted() {
  static const bool wanted = [] {
    const char* v = std::getenv("DFER_SCAN");
    return v == nullptr || std::strcmp(v, "chunked") != 0;
  }();
  return wanted;
}

// One chunk of T steps from state h0 (B, E, N): u, dt (B, E, T); Bm, Cm (B, N, T). Returns the
// chunk's C.h (B, E, T) and its last state. The decays exp(dt A) have exponents <= 0, so nothing
// overflows however long the chunk. Two algorithms give the same numbers:
//  - sequential: one fused multiply-add per step on a (B, E, N) state. Few bytes moved, one
//    operator launch per step: the fast one on the CPU, where launches are cheap.
//  - log-depth (Hillis-Steele over the associative pairs (a, b)∘(a', b') = (a a', a' b + b')):
//    log2(T) whole-chunk steps, so few launches but log2(T) times the memory traffic: the one
//    for the GPU without the fused kernel.
// A pairwise closed form exp(cumsum_t - cumsum_s) would need (B, E, T, T, N) per chunk: T times
// the work and memory of either.
std::pair<torch::Tensor, torch::Tensor> chunk_forward(
    const torch::Tensor& u, const torch::Tensor& dt, const torch::Tensor& A,
    const torch::Tensor& Bm, const torch::Tensor& Cm, const torch::Tensor& h0, bool log_depth) {
  const int64_t T = u.size(2);
  auto a = torch::exp(dt.unsqueeze(-1) * A.unsqueeze(1));             // (B, E, T, N)
  auto b = (dt * u).unsqueeze(-1) * Bm.transpose(1, 2).unsqueeze(1);  // (B, E, T, N)
  torch::Tensor H, h_end;
  if (log_depth) {
    // Fold the entry state into step 0; afterwards b[t] is h_t.
    b = torch::cat({b.narrow(2, 0, 1) + a.narrow(2, 0, 1) * h0.unsqueeze(2), b.narrow(2, 1, T - 1)},
                   2);
    for (int64_t k = 1; k < T; k *= 2) {
      auto a_hi = a.narrow(2, k, T - k);
      b = torch::cat({b.narrow(2, 0, k), b.narrow(2, k, T - k) + a_hi * b.narrow(2, 0, T - k)}, 2);
      if (2 * k < T) a = torch::cat({a.narrow(2, 0, k), a_hi * a.narrow(2, 0, T - k)}, 2);
    }
    H = b;
    h_end = b.select(2, T - 1);
  } else {
    // unbind, not select per step: its backward is one stack, where T selects would each
    // scatter into a zero tensor of the whole chunk (T^2 memory traffic in the backward).
    const auto as = a.unbind(2), bs = b.unbind(2);
    std::vector<torch::Tensor> hs;
    hs.reserve(T);
    auto h = h0;
    for (int64_t t = 0; t < T; ++t) {
      h = torch::addcmul(bs[t], as[t], h);
      hs.push_back(h);
    }
    H = torch::stack(hs, 2);
    h_end = h;
  }
  auto y = (H * Cm.transpose(1, 2).unsqueeze(1)).sum(-1);  // (B, E, T)
  return {y, h_end};
}

// The recurrence's C.h over the whole sequence, chunk by chunk; forward keeps only the inputs
// and the state entering each chunk, backward recomputes one chunk at a time in reverse order.
struct ChunkedScanFn : public torch::autograd::Function<ChunkedScanFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& u,
                               const torch::Tensor& dt, const torch::Tensor& A,
                               const torch::Tensor& Bm, const torch::Tensor& Cm, int64_t chunk,
                               bool log_depth) {
    torch::NoGradGuard no_grad;
    const int64_t B = u.size(0), E = u.size(1), L = u.size(2), N = A.size(1);
    auto h = torch::zeros({B, E, N}, u.options());
    std::vector<torch::Tensor> ys, states;
    for (int64_t s = 0; s < L; s += chunk) {
      const int64_t T = std::min(chunk, L - s);
      states.push_back(h);
      auto [y, h_end] = chunk_forward(u.narrow(2, s, T), dt.narrow(2, s, T), A, Bm.narrow(2, s, T),
                                      Cm.narrow(2, s, T), h, log_depth);
      ys.push_back(y);
      h = h_end;
    }
    ctx->save_for_backward({u, dt, A, Bm, Cm, torch::stack(states, 0)});
    ctx->saved_data["chunk"] = chunk;
    ctx->saved_data["log_depth"] = log_depth;
    return torch::cat(ys, 2);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    const auto saved = ctx->get_saved_variables();
    const auto &u = saved[0], &dt = saved[1], &A = saved[2], &Bm = saved[3], &Cm = saved[4];
    const auto& states = saved[5];
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const bool log_depth = ctx->saved_data["log_depth"].toBool();
    const int64_t L = u.size(2), n_chunks = states.size(0);
    auto gy = grad_out[0].defined() ? grad_out[0] : torch::zeros_like(u);

    auto gu = torch::empty_like(u), gdt = torch::empty_like(dt);
    auto gB = torch::empty_like(Bm), gC = torch::empty_like(Cm);
    auto gA = torch::zeros_like(A);
    auto gh = torch::zeros_like(states[0]);  // d loss / d (state leaving the chunk)
    torch::AutoGradMode grad_on(true);
    for (int64_t c = n_chunks - 1; c >= 0; --c) {
      const int64_t s = c * chunk, T = std::min(chunk, L - s);
      auto leaf = [](const torch::Tensor& t) { return t.detach().requires_grad_(true); };
      auto uc = leaf(u.narrow(2, s, T)), dtc = leaf(dt.narrow(2, s, T));
      auto Bc = leaf(Bm.narrow(2, s, T)), Cc = leaf(Cm.narrow(2, s, T));
      auto Ac = leaf(A), h0 = leaf(states[c]);
      auto [y, h_end] = chunk_forward(uc, dtc, Ac, Bc, Cc, h0, log_depth);
      auto g = torch::autograd::grad({y, h_end}, {uc, dtc, Ac, Bc, Cc, h0},
                                     {gy.narrow(2, s, T), gh}, /*retain_graph=*/false,
                                     /*create_graph=*/false, /*allow_unused=*/true);
      auto put = [&](torch::Tensor& dst, const torch::Tensor& src) {
        if (src.defined())
          dst.narrow(2, s, T).copy_(src);
        else
          dst.narrow(2, s, T).zero_();
      };
      put(gu, g[0]);
      put(gdt, g[1]);
      put(gB, g[3]);
      put(gC, g[4]);
      if (g[2].defined()) gA.add_(g[2]);
      gh = g[5].defined() ? g[5] : torch::zeros_like(gh);
    }
    return {gu, gdt, gA, gB, gC, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

void check_selective_scan_shapes(const torch::Tensor& u, const torch::Tensor& delta,
                                 const torch::Tensor& A, const torch::Tensor& Bm,
                                 const torch::Tensor& Cm, const torch::Tensor& D,
                                 const torch::Tensor& z, const torch::Tensor& delta_bias) {
  auto fail = [&](const char* what) {
    throw Error(fmt::format(
        "selective_scan: {} (u {}, delta {}, A {}, B {}, C {}, D {}, z {}, delta_bias {})", what,
        shape_str(u.sizes()), shape_str(delta.sizes()), shape_str(A.sizes()), shape_str(Bm.sizes()),
        shape_str(Cm.sizes()), D.defined() ? shape_str(D.sizes()) : "-",
        z.defined() ? shape_str(z.sizes()) : "-",
        delta_bias.defined() ? shape_str(delta_bias.sizes()) : "-"));
  };
  if (u.dim() != 3 || delta.sizes() != u.sizes()) fail("u and delta must both be (B, E, L)");
  const int64_t B = u.size(0), E = u.size(1), L = u.size(2);
  if (A.dim() != 2 || A.size(0) != E) fail("A must be (E, N)");
  const int64_t N = A.size(1);
  const std::vector<int64_t> bc{B, N, L};
  if (Bm.sizes() != c10::IntArrayRef(bc) || Cm.sizes() != c10::IntArrayRef(bc))
    fail("B and C must be (B, N, L)");
  if (z.defined() && z.sizes() != u.sizes()) fail("z must be (B, E, L)");
  for (const auto* v : {&D, &delta_bias})
    if (v->defined() && (v->dim() != 1 || v->size(0) != E)) fail("D and delta_bias must be (E)");
}

torch::Tensor selective_scan_reference(const torch::Tensor& u, const torch::Tensor& delta,
                                       const torch::Tensor& A, const torch::Tensor& Bm,
                                       const torch::Tensor& Cm, const torch::Tensor& D,
                                       const torch::Tensor& z, const torch::Tensor& delta_bias,
                                       bool delta_softplus) {
  check_selective_scan_shapes(u, delta, A, Bm, Cm, D, z, delta_bias);
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  const auto ct = compute_dtype(u);
  const auto uf = u.to(ct), Af = A.to(ct), Bf = Bm.to(ct), Cf = Cm.to(ct);
  const auto dt = step_sizes(delta.to(ct), cast(delta_bias, ct), delta_softplus);
  const int64_t B = u.size(0), E = u.size(1), L = u.size(2), N = A.size(1);
  auto h = torch::zeros({B, E, N}, uf.options());
  std::vector<torch::Tensor> ys;
  for (int64_t t = 0; t < L; ++t) {
    const auto dt_t = dt.select(2, t).unsqueeze(-1);  // (B, E, 1)
    const auto a = torch::exp(dt_t * Af);             // Ā: zero-order hold
    const auto bu = dt_t * Bf.select(2, t).unsqueeze(1) * uf.select(2, t).unsqueeze(-1);  // Euler
    h = a * h + bu;
    ys.push_back((h * Cf.select(2, t).unsqueeze(1)).sum(-1));
  }
  auto y = finish(torch::stack(ys, 2), uf, cast(D, ct), cast(z, ct));
  return y.to(u.scalar_type());
}

torch::Tensor selective_scan_chunked(const torch::Tensor& u, const torch::Tensor& delta,
                                     const torch::Tensor& A, const torch::Tensor& Bm,
                                     const torch::Tensor& Cm, const torch::Tensor& D,
                                     const torch::Tensor& z, const torch::Tensor& delta_bias,
                                     bool delta_softplus, int64_t chunk, ScanAlgorithm algorithm) {
  check_selective_scan_shapes(u, delta, A, Bm, Cm, D, z, delta_bias);
  if (chunk <= 0) throw Error(fmt::format("selective_scan: chunk {} must be positive", chunk));
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  const auto ct = compute_dtype(u);
  const auto uf = u.to(ct);
  // The (B, E, L) terms go through ordinary autograd; only the recurrence is custom.
  const auto dt = step_sizes(delta.to(ct), cast(delta_bias, ct), delta_softplus);
  const bool log_depth =
      algorithm == ScanAlgorithm::kLogDepth || (algorithm == ScanAlgorithm::kAuto && !u.is_cpu());
  auto core = ChunkedScanFn::apply(uf, dt, A.to(ct), Bm.to(ct), Cm.to(ct), chunk, log_depth);
  return finish(core, uf, cast(D, ct), cast(z, ct)).to(u.scalar_type());
}

torch::Tensor selective_scan(const torch::Tensor& u, const torch::Tensor& delta,
                             const torch::Tensor& A, const torch::Tensor& Bm,
                             const torch::Tensor& Cm, const torch::Tensor& D,
                             const torch::Tensor& z, const torch::Tensor& delta_bias,
                             bool delta_softplus, int64_t chunk) {
  // CPU tensors go to the fused CPU loops (dfer/models/selective_scan_cpu.h); a CUDA build with
  // DFER_CUDA_SCAN sends the CUDA tensors the fused kernel takes to it
  // (dfer/models/selective_scan_cuda.h); everything else takes the chunked path.
  if (fused_wanted() && selective_scan_cpu_supports(u))
    return selective_scan_cpu(u, delta, A, Bm, Cm, D, z, delta_bias, delta_softplus, chunk);
#if DFER_CUDA_SCAN
  if (fused_wanted() && selective_scan_cuda_supports(u, A))
    return selective_scan_cuda(u, delta, A, Bm, Cm, D, z, delta_bias, delta_softplus);
#endif
  return selective_scan_chunked(u, delta, A, Bm, Cm, D, z, delta_bias, delta_softplus, chunk);
}

}  // namespace dfer::models
