// The fused CPU selective scan: forward and recomputing backward as plain loops over raw
// pointers (see selective_scan_cpu_kernel.h). One (batch, channel) row at a time, sequential
// over L with the N-sized state in a local array: each step is N exponentials and a few
// multiply-adds, where the chunked LibTorch scan spends an operator launch per step.
#include "selective_scan_cpu_kernel.h"

#include "selective_scan_cpu_math.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace dfer::models::cpu_scan {

namespace {

template <typename T>
T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// Rows per task: a row is L N exponentials, so one row is already worth a thread at any model
// size; tiny test shapes get batched so they do not pay a thread hand-off per row.
template <typename T>
int64_t grain_for(const ScanArgs<T>& a) {
  const int64_t work = std::max<int64_t>(1, a.length * a.dstate);
  return std::max<int64_t>(1, 16384 / work);
}

// One step of the recurrence for every n: decay = exp(dt A) (kept for the backward), h updated
// in place, returns C_t . h_t. Each loop is a plain loop over n that the compiler vectorises;
// `prod` is scratch of N.
template <typename T>
DFER_SCAN_INLINE T recurrence_step(int64_t N, const T* A, T dt, T u, const T* Bt, const T* Ct,
                                   const T* h_prev, T* h, T* decay, T* prod) {
  scaled_exp(N, dt, A, decay);
  for (int64_t n = 0; n < N; ++n) {
    h[n] = decay[n] * h_prev[n] + dt * Bt[n] * u;  // zero-order-hold A, Euler B (§2.4)
    prod[n] = Ct[n] * h[n];
  }
  return lane_sum(N, prod);
}

// The per-state part of one backward step (see backward_row): lambda moves from h_t to h_{t-1},
// the state-wise gradients accumulate, and the terms of du and d dt are left for lane_sum. Every
// array is distinct, which __restrict tells the compiler: otherwise it would need more run-time
// overlap tests than it is willing to emit, and the loop would stay scalar.
template <typename T>
DFER_SCAN_INLINE void backward_step(int64_t N, T gy, T dt, T u, const T* __restrict A,
                                    const T* __restrict Bt, const T* __restrict Ct,
                                    const T* __restrict h, const T* __restrict h_prev,
                                    const T* __restrict decay, T* __restrict lambda,
                                    T* __restrict dA, T* __restrict dBt, T* __restrict dCt,
                                    T* __restrict du_terms, T* __restrict ddt_terms) {
  for (int64_t n = 0; n < N; ++n) {
    const T l = lambda[n] + gy * Ct[n];  // d loss / d h_t
    dCt[n] += gy * h[n];
    dBt[n] += l * dt * u;
    du_terms[n] = l * dt * Bt[n];
    ddt_terms[n] = l * (A[n] * decay[n] * h_prev[n] + Bt[n] * u);
    dA[n] += l * dt * decay[n] * h_prev[n];
    lambda[n] = l * decay[n];
  }
}

// The per-worker sums of the backward: a worker owns the rows [begin, end) of the flattened
// (batch, channel) index, hence the batches b_lo..b_hi of dB and dC.
template <typename T>
struct Partial {
  int64_t begin = 0, end = 0, b_lo = 0, b_hi = -1;
  std::vector<T> dA, dD;  // (E, N), (E)
  std::vector<T> dB, dC;  // (b_hi - b_lo + 1, L, N)
};

// A backward worker's scratch: one chunk of recomputed states and decays, and per-state terms.
template <typename T>
struct Scratch {
  std::vector<T> hist, decay, y, lambda, prod, du_terms, ddt_terms;
  Scratch(int64_t K, int64_t N)
      : hist((K + 1) * N), decay(K * N), y(K), lambda(N), prod(N), du_terms(N), ddt_terms(N) {}
};

// The backward of one (b, e) row, last chunk first. lambda carries d loss / d h_t backwards:
// lambda_t = gy_t C_t + exp(dt_{t+1} A) lambda_{t+1}. With h_{t-1} and the decays of the chunk
// recomputed from its entry state:
//   dB_t += lambda dt u        du_t = sum_n lambda dt B_t + gy D
//   dA   += lambda dt decay h_{t-1}    d dt_t = sum_n lambda (A decay h_{t-1} + B_t u)
//   dC_t += gy h_t             dD += gy u      dz = gout y SiLU'(z)
template <typename T>
DFER_SCAN_INLINE void backward_row(const ScanArgs<T>& a, const T* states, const ScanGrads<T>& g,
                                   int64_t b, int64_t e, Partial<T>& p, Scratch<T>& w) {
  const int64_t N = a.dstate, L = a.length, K = a.chunk, chunks = num_chunks(L, K);
  const int64_t row = b * a.dim + e;
  const T *u = a.u.row(b, e), *dt = a.dt.row(b, e), *gout = g.gout.row(b, e);
  const T* z = a.z.data ? a.z.row(b, e) : nullptr;
  const T* A = a.A + e * N;
  const T D = a.D ? a.D[e] : T(0);
  T *du = g.du + row * L, *ddt = g.ddt + row * L;
  T* dz = g.dz ? g.dz + row * L : nullptr;
  T* dA = p.dA.data() + e * N;
  T *dB = p.dB.data() + (b - p.b_lo) * L * N, *dC = p.dC.data() + (b - p.b_lo) * L * N;
  // Plain pointers for the inner loops: through the vectors the compiler reloads their data
  // pointers every iteration and gives up vectorising.
  T *lambda = w.lambda.data(), *du_terms = w.du_terms.data(), *ddt_terms = w.ddt_terms.data();
  T dD = 0;
  std::fill(w.lambda.begin(), w.lambda.end(), T(0));

  for (int64_t c = chunks - 1; c >= 0; --c) {
    const int64_t s = c * K, len = std::min(K, L - s);
    // Forward again through the chunk: hist[t] is the state before step s + t; y[t] = C . h
    // (the gate's gradient needs it).
    std::copy_n(states + (row * chunks + c) * N, N, w.hist.data());
    for (int64_t t = 0; t < len; ++t) {
      w.y[t] = recurrence_step(N, A, dt[s + t], u[s + t], a.Bm.row(b, s + t), a.Cm.row(b, s + t),
                               w.hist.data() + t * N, w.hist.data() + (t + 1) * N,
                               w.decay.data() + t * N, w.prod.data());
    }
    for (int64_t t = len - 1; t >= 0; --t) {
      const int64_t tt = s + t;
      const T ut = u[tt];
      const T *Bt = a.Bm.row(b, tt), *Ct = a.Cm.row(b, tt);
      const T *h = w.hist.data() + (t + 1) * N, *h_prev = w.hist.data() + t * N;
      const T* dec = w.decay.data() + t * N;
      T gy = gout[tt];
      if (z) {
        const T y = w.y[t] + D * ut;
        const T zt = z[tt], sz = sigmoid(zt);
        dz[tt] = gy * y * sz * (T(1) + zt * (T(1) - sz));
        gy = gy * zt * sz;
      }
      backward_step(N, gy, dt[tt], ut, A, Bt, Ct, h, h_prev, dec, lambda, dA, dB + tt * N,
                    dC + tt * N, du_terms, ddt_terms);
      du[tt] = lane_sum(N, du_terms) + gy * D;
      ddt[tt] = lane_sum(N, ddt_terms);
      dD += gy * ut;
    }
  }
  p.dD[e] += dD;
}

// The forward of the rows [begin, end) of the flattened (batch, channel) index.
template <typename T>
DFER_SCAN_INLINE void forward_rows_impl(const ScanArgs<T>& a, T* out, T* states, int64_t begin,
                                        int64_t end) {
  const int64_t N = a.dstate, L = a.length, K = a.chunk, chunks = num_chunks(L, K);
  std::vector<T> h(N), decay(N), prod(N);
  for (int64_t row = begin; row < end; ++row) {
    const int64_t b = row / a.dim, e = row % a.dim;
    const T *u = a.u.row(b, e), *dt = a.dt.row(b, e);
    const T* z = a.z.data ? a.z.row(b, e) : nullptr;
    const T* A = a.A + e * N;
    const T D = a.D ? a.D[e] : T(0);
    T* o = out + row * L;
    T* saved = states + row * chunks * N;
    std::fill(h.begin(), h.end(), T(0));
    for (int64_t t = 0; t < L; ++t) {
      if (t % K == 0) std::copy(h.begin(), h.end(), saved + (t / K) * N);
      T y = recurrence_step(N, A, dt[t], u[t], a.Bm.row(b, t), a.Cm.row(b, t), h.data(), h.data(),
                            decay.data(), prod.data());
      y += D * u[t];
      if (z) y = y * (z[t] * sigmoid(z[t]));
      o[t] = y;
    }
  }
}

// The backward of one worker's rows.
template <typename T>
DFER_SCAN_INLINE void backward_rows_impl(const ScanArgs<T>& a, const T* states,
                                         const ScanGrads<T>& g, Partial<T>& p) {
  Scratch<T> scratch(a.chunk, a.dstate);
  for (int64_t row = p.begin; row < p.end; ++row)
    backward_row(a, states, g, row / a.dim, row % a.dim, p, scratch);
}

// The row loops as plain functions. float's are compiled twice, for AVX2 and for the baseline,
// and the loader picks one for the CPU (GCC's target_clones, an ifunc): twice the lanes in
// every loop over the states, without building for one machine. double (the tests) stays on
// the baseline.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define DFER_SCAN_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define DFER_SCAN_CLONES
#endif

DFER_SCAN_CLONES void forward_rows(const ScanArgs<float>& a, float* out, float* states,
                                   int64_t begin, int64_t end) {
  forward_rows_impl(a, out, states, begin, end);
}
void forward_rows(const ScanArgs<double>& a, double* out, double* states, int64_t begin,
                  int64_t end) {
  forward_rows_impl(a, out, states, begin, end);
}
DFER_SCAN_CLONES void backward_rows(const ScanArgs<float>& a, const float* states,
                                    const ScanGrads<float>& g, Partial<float>& p) {
  backward_rows_impl(a, states, g, p);
}
void backward_rows(const ScanArgs<double>& a, const double* states, const ScanGrads<double>& g,
                   Partial<double>& p) {
  backward_rows_impl(a, states, g, p);
}

// dst[i] = sum over the partials that hold index i, in partial order.
template <typename T>
void reduce_per_channel(const std::vector<Partial<T>>& parts, std::vector<T> Partial<T>::*field,
                        int64_t size, T* dst) {
  std::fill_n(dst, size, T(0));
  for (const auto& p : parts)
    for (int64_t i = 0; i < size; ++i) dst[i] += (p.*field)[i];
}

template <typename T>
void reduce_per_batch(const ScanArgs<T>& a, const std::vector<Partial<T>>& parts,
                      std::vector<T> Partial<T>::*field, T* dst) {
  const int64_t LN = a.length * a.dstate;
  at::parallel_for(0, a.batch, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      T* out = dst + b * LN;
      std::fill_n(out, LN, T(0));
      for (const auto& p : parts) {
        if (b < p.b_lo || b > p.b_hi) continue;
        const T* src = (p.*field).data() + (b - p.b_lo) * LN;
        for (int64_t i = 0; i < LN; ++i) out[i] += src[i];
      }
    }
  });
}

}  // namespace

template <typename T>
void scan_forward(const ScanArgs<T>& a, T* out, T* states) {
  at::parallel_for(0, a.batch * a.dim, grain_for(a),
                   [&](int64_t begin, int64_t end) { forward_rows(a, out, states, begin, end); });
}

template <typename T>
void scan_backward(const ScanArgs<T>& a, const T* states, const ScanGrads<T>& g) {
  const int64_t rows = a.batch * a.dim, N = a.dstate, L = a.length, E = a.dim;
  // One partial per worker, the rows split evenly: the partition (hence the order of every
  // sum) depends only on the thread count, not on scheduling.
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), rows));
  std::vector<Partial<T>> parts(workers);
  for (int64_t w = 0; w < workers; ++w) {
    auto& p = parts[w];
    p.begin = rows * w / workers;
    p.end = rows * (w + 1) / workers;
    if (p.end > p.begin) p.b_lo = p.begin / E, p.b_hi = (p.end - 1) / E;
    p.dA.assign(E * N, T(0));
    p.dD.assign(E, T(0));
    p.dB.assign((p.b_hi - p.b_lo + 1) * L * N, T(0));
    p.dC.assign((p.b_hi - p.b_lo + 1) * L * N, T(0));
  }
  at::parallel_for(0, workers, 1, [&](int64_t w0, int64_t w1) {
    for (int64_t w = w0; w < w1; ++w) backward_rows(a, states, g, parts[w]);
  });
  reduce_per_channel(parts, &Partial<T>::dA, E * N, g.dA);
  if (g.dD) reduce_per_channel(parts, &Partial<T>::dD, E, g.dD);
  reduce_per_batch(a, parts, &Partial<T>::dB, g.dB);
  reduce_per_batch(a, parts, &Partial<T>::dC, g.dC);
}

template void scan_forward<float>(const ScanArgs<float>&, float*, float*);
template void scan_forward<double>(const ScanArgs<double>&, double*, double*);
template void scan_backward<float>(const ScanArgs<float>&, const float*, const ScanGrads<float>&);
template void scan_backward<double>(const ScanArgs<double>&, const double*,
                                    const ScanGrads<double>&);

}  // namespace dfer::models::cpu_scan
