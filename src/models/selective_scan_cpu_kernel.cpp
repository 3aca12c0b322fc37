// The fused CPU selective scan: forward and recomputing backward as plain loops over raw
// pointers (see selective_scan_cpu_kernel.h). One (batch, channel) row at a time, sequential
// over L with the N-sized state in a local array: each step is N exponentials and a few
// multiply-adds, where the chunked LibTorch scan spends an operator launch per step.
#include "selective_scan_cpu_kernel.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace dfer::models::cpu_scan {

namespace {

// torch's softplus (beta 1, threshold 20): the identity above 20, its derivative there 1.
template <typename T>
T softplus(T x) {
  return x > T(20) ? x : std::log1p(std::exp(x));
}

template <typename T>
T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// The raw step with its bias, before the softplus.
template <typename T>
T raw_step(const ScanArgs<T>& a, const T* delta_row, int64_t e, int64_t t) {
  return delta_row[t] + (a.delta_bias ? a.delta_bias[e] : T(0));
}

template <typename T>
T step_size(const ScanArgs<T>& a, T raw) {
  return a.softplus ? softplus(raw) : raw;
}

// d dt / d raw: the sigmoid below the threshold, 1 above it or without the softplus.
template <typename T>
T step_derivative(const ScanArgs<T>& a, T raw) {
  return a.softplus && raw <= T(20) ? sigmoid(raw) : T(1);
}

// Rows per task: a row is L N exponentials, so one row is already worth a thread at any model
// size; tiny test shapes get batched so they do not pay a thread hand-off per row.
template <typename T>
int64_t grain_for(const ScanArgs<T>& a) {
  const int64_t work = std::max<int64_t>(1, a.length * a.dstate);
  return std::max<int64_t>(1, 16384 / work);
}

// One step of the recurrence for every n: decay = exp(dt A) (kept for the backward), h updated
// in place, returns C_t . h_t. The exponentials come first in their own loop so that the
// multiply-adds after them form a clean loop the compiler can vectorise.
template <typename T>
T recurrence_step(int64_t N, const T* A, T dt, T u, const T* Bt, const T* Ct, const T* h_prev, T* h,
                  T* decay) {
  for (int64_t n = 0; n < N; ++n) decay[n] = std::exp(dt * A[n]);
  T y = 0;
  for (int64_t n = 0; n < N; ++n) {
    h[n] = decay[n] * h_prev[n] + dt * Bt[n] * u;  // zero-order-hold A, Euler B (§2.4)
    y += Ct[n] * h[n];
  }
  return y;
}

// The per-worker sums of the backward: a worker owns the rows [begin, end) of the flattened
// (batch, channel) index, hence the batches b_lo..b_hi of dB and dC.
template <typename T>
struct Partial {
  int64_t begin = 0, end = 0, b_lo = 0, b_hi = -1;
  std::vector<T> dA, dD, dbias;  // (E, N), (E), (E)
  std::vector<T> dB, dC;         // (b_hi - b_lo + 1, L, N)
};

// The backward of one (b, e) row, last chunk first. lambda carries d loss / d h_t backwards:
// lambda_t = gy_t C_t + exp(dt_{t+1} A) lambda_{t+1}. With h_{t-1} and the decays of the chunk
// recomputed from its entry state:
//   dB_t += lambda dt u        du_t = sum_n lambda dt B_t + gy D
//   dA   += lambda dt decay h_{t-1}    d dt_t = sum_n lambda (A decay h_{t-1} + B_t u)
//   dC_t += gy h_t             dD += gy u      dz = gout y SiLU'(z)
template <typename T>
void backward_row(const ScanArgs<T>& a, const T* states, const ScanGrads<T>& g, int64_t b,
                  int64_t e, Partial<T>& p, std::vector<T>& hist, std::vector<T>& decay,
                  std::vector<T>& lambda) {
  const int64_t N = a.dstate, L = a.length, K = a.chunk, chunks = num_chunks(L, K);
  const int64_t row = b * a.dim + e;
  const T *u = a.u.row(b, e), *raw_delta = a.delta.row(b, e), *gout = g.gout.row(b, e);
  const T* z = a.z.data ? a.z.row(b, e) : nullptr;
  const T* A = a.A + e * N;
  const T D = a.D ? a.D[e] : T(0);
  T *du = g.du + row * L, *ddelta = g.ddelta + row * L;
  T* dz = g.dz ? g.dz + row * L : nullptr;
  T* dA = p.dA.data() + e * N;
  T *dB = p.dB.data() + (b - p.b_lo) * L * N, *dC = p.dC.data() + (b - p.b_lo) * L * N;
  T dD = 0, dbias = 0;
  std::fill(lambda.begin(), lambda.end(), T(0));

  for (int64_t c = chunks - 1; c >= 0; --c) {
    const int64_t s = c * K, len = std::min(K, L - s);
    // Forward again through the chunk: hist[t] is the state before step s + t.
    std::copy_n(states + (row * chunks + c) * N, N, hist.data());
    for (int64_t t = 0; t < len; ++t) {
      const T dt = step_size(a, raw_step(a, raw_delta, e, s + t));
      recurrence_step(N, A, dt, u[s + t], a.Bm.row(b, s + t), a.Cm.row(b, s + t),
                      hist.data() + t * N, hist.data() + (t + 1) * N, decay.data() + t * N);
    }
    for (int64_t t = len - 1; t >= 0; --t) {
      const int64_t tt = s + t;
      const T raw = raw_step(a, raw_delta, e, tt), dt = step_size(a, raw), ut = u[tt];
      const T *Bt = a.Bm.row(b, tt), *Ct = a.Cm.row(b, tt);
      const T *h = hist.data() + (t + 1) * N, *h_prev = hist.data() + t * N;
      const T* dec = decay.data() + t * N;
      T gy = gout[tt];
      if (z) {
        T y = 0;
        for (int64_t n = 0; n < N; ++n) y += Ct[n] * h[n];
        y += D * ut;
        const T zt = z[tt], sz = sigmoid(zt);
        dz[tt] = gy * y * sz * (T(1) + zt * (T(1) - sz));
        gy = gy * zt * sz;
      }
      T d_u = 0, d_dt = 0;
      T *dBt = dB + tt * N, *dCt = dC + tt * N;
      for (int64_t n = 0; n < N; ++n) {
        const T l = lambda[n] + gy * Ct[n];
        dCt[n] += gy * h[n];
        dBt[n] += l * dt * ut;
        d_u += l * dt * Bt[n];
        d_dt += l * (A[n] * dec[n] * h_prev[n] + Bt[n] * ut);
        dA[n] += l * dt * dec[n] * h_prev[n];
        lambda[n] = l * dec[n];
      }
      const T d_raw = d_dt * step_derivative(a, raw);
      du[tt] = d_u + gy * D;
      ddelta[tt] = d_raw;
      dD += gy * ut;
      dbias += d_raw;
    }
  }
  p.dD[e] += dD;
  p.dbias[e] += dbias;
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
  const int64_t N = a.dstate, L = a.length, K = a.chunk, chunks = num_chunks(L, K);
  at::parallel_for(0, a.batch * a.dim, grain_for(a), [&](int64_t begin, int64_t end) {
    std::vector<T> h(N), decay(N);
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row / a.dim, e = row % a.dim;
      const T *u = a.u.row(b, e), *raw_delta = a.delta.row(b, e);
      const T* z = a.z.data ? a.z.row(b, e) : nullptr;
      const T* A = a.A + e * N;
      const T D = a.D ? a.D[e] : T(0);
      T* o = out + row * L;
      T* saved = states + row * chunks * N;
      std::fill(h.begin(), h.end(), T(0));
      for (int64_t t = 0; t < L; ++t) {
        if (t % K == 0) std::copy(h.begin(), h.end(), saved + (t / K) * N);
        const T dt = step_size(a, raw_step(a, raw_delta, e, t));
        T y = recurrence_step(N, A, dt, u[t], a.Bm.row(b, t), a.Cm.row(b, t), h.data(), h.data(),
                              decay.data());
        y += D * u[t];
        if (z) y = y * (z[t] * sigmoid(z[t]));
        o[t] = y;
      }
    }
  });
}

template <typename T>
void scan_backward(const ScanArgs<T>& a, const T* states, const ScanGrads<T>& g) {
  const int64_t rows = a.batch * a.dim, N = a.dstate, L = a.length, K = a.chunk, E = a.dim;
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
    p.dbias.assign(E, T(0));
    p.dB.assign((p.b_hi - p.b_lo + 1) * L * N, T(0));
    p.dC.assign((p.b_hi - p.b_lo + 1) * L * N, T(0));
  }
  at::parallel_for(0, workers, 1, [&](int64_t w0, int64_t w1) {
    std::vector<T> hist((K + 1) * N), decay(K * N), lambda(N);
    for (int64_t w = w0; w < w1; ++w)
      for (int64_t row = parts[w].begin; row < parts[w].end; ++row)
        backward_row(a, states, g, row / E, row % E, parts[w], hist, decay, lambda);
  });
  reduce_per_channel(parts, &Partial<T>::dA, E * N, g.dA);
  if (g.dD) reduce_per_channel(parts, &Partial<T>::dD, E, g.dD);
  if (g.ddelta_bias) reduce_per_channel(parts, &Partial<T>::dbias, E, g.ddelta_bias);
  reduce_per_batch(a, parts, &Partial<T>::dB, g.dB);
  reduce_per_batch(a, parts, &Partial<T>::dC, g.dC);
}

template void scan_forward<float>(const ScanArgs<float>&, float*, float*);
template void scan_forward<double>(const ScanArgs<double>&, double*, double*);
template void scan_backward<float>(const ScanArgs<float>&, const float*, const ScanGrads<float>&);
template void scan_backward<double>(const ScanArgs<double>&, const double*,
                                    const ScanGrads<double>&);

}  // namespace dfer::models::cpu_scan
