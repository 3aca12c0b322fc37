// The fused selective-scan CUDA kernels: a forward that keeps only chunk-entry states and a
// backward that recomputes each chunk from them (launchers declared in selective_scan_kernel.h).
// Plain CUDA on purpose: no LibTorch header, so nvcc stays fast and independent of its headers.
//
// Work split, both directions: one block per (batch, group of channels); one thread per
// (channel, state n), the G >= N lanes of a channel sitting side by side in one warp. Every
// thread carries its own state h[b, e, n] in a register and walks the sequence in order; the
// sums over n (y = C.h, and the gradients of u and delta) are shuffles inside the warp. Each chunk
// of kChunk steps is first staged in shared memory (coalesced along L, converted to fp32).
#include "selective_scan_kernel.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace dfer::models::cuda_scan {

namespace {

constexpr int kThreads = 128;
// Pitch of the per-row shared arrays: one float more than a chunk, so that lanes reading the
// same step of different rows hit different banks.
constexpr int kPitch = kChunk + 1;
constexpr size_t kDefaultSharedBytes = 48 * 1024;

__device__ __forceinline__ float load(const float* p) {
  return *p;
}
__device__ __forceinline__ float load(const __nv_bfloat16* p) {
  return __bfloat162float(*p);
}
__device__ __forceinline__ float load(const __half* p) {
  return __half2float(*p);
}
__device__ __forceinline__ void store(float* p, float v) {
  *p = v;
}
__device__ __forceinline__ void store(__nv_bfloat16* p, float v) {
  *p = __float2bfloat16(v);
}
__device__ __forceinline__ void store(__half* p, float v) {
  *p = __float2half(v);
}

__device__ __forceinline__ float sigmoid(float x) {
  return 1.f / (1.f + expf(-x));
}

// torch's softplus: the identity above 20, where log1p(exp(x)) equals x in fp32 anyway.
__device__ __forceinline__ float softplus(float x) {
  return x > 20.f ? x : log1pf(expf(x));
}

// The sum over the G lanes of one channel (G a power of two <= 32: groups never straddle warps).
// Every lane of the warp must arrive, so loops around it run the same count on all threads.
__device__ __forceinline__ float group_sum(float v, int G) {
  for (int offset = G >> 1; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

template <typename T>
__device__ __forceinline__ const T* row_of(const View3& v, int64_t b, int64_t r) {
  return static_cast<const T*>(v.data) + b * v.stride_batch + r * v.stride_row;
}

// The block's share of one chunk (steps s .. s+len-1) into shared memory, as fp32, zero outside
// the sequence and past the last channel, so that such lanes run the same loop harmlessly (their
// A is 0 and their u is 0: the state stays 0 and every gradient term vanishes).
//   s_u, s_dt (after bias and softplus), s_dsp (d dt / d raw delta; null in the forward),
//   s_z (null without gate): rows x kPitch.  s_B, s_C: G x kPitch.
template <typename T>
__device__ void stage_chunk(const ScanArgs& a, int G, int rows, int64_t b, int64_t e0, int64_t s,
                            int len, float* s_u, float* s_dt, float* s_dsp, float* s_z, float* s_B,
                            float* s_C) {
  for (int i = threadIdx.x; i < rows * kChunk; i += kThreads) {
    const int r = i / kChunk, t = i % kChunk;
    const int64_t e = e0 + r;
    float u = 0.f, raw = 0.f, z = 0.f;
    if (e < a.dim && t < len) {
      u = load(row_of<T>(a.u, b, e) + s + t);
      raw = load(row_of<T>(a.delta, b, e) + s + t) + (a.delta_bias ? a.delta_bias[e] : 0.f);
      if (s_z) z = load(row_of<T>(a.z, b, e) + s + t);
    }
    const int k = r * kPitch + t;
    s_u[k] = u;
    s_dt[k] = a.softplus ? softplus(raw) : raw;
    if (s_dsp) s_dsp[k] = a.softplus && raw <= 20.f ? sigmoid(raw) : 1.f;
    if (s_z) s_z[k] = z;
  }
  for (int i = threadIdx.x; i < G * kChunk; i += kThreads) {
    const int n = i / kChunk, t = i % kChunk;
    const bool in = n < a.dstate && t < len;
    s_B[n * kPitch + t] = in ? load(row_of<T>(a.Bm, b, n) + s + t) : 0.f;
    s_C[n * kPitch + t] = in ? load(row_of<T>(a.Cm, b, n) + s + t) : 0.f;
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    forward_kernel(const ScanArgs a, const int G, T* __restrict__ out, float* __restrict__ states) {
  extern __shared__ float smem[];
  const int rows = kThreads / G;
  float* s_u = smem;
  float* s_dt = s_u + rows * kPitch;
  float* s_z = s_dt + rows * kPitch;
  float* s_y = s_z + rows * kPitch;
  float* s_B = s_y + rows * kPitch;
  float* s_C = s_B + G * kPitch;
  const bool gated = a.z.data != nullptr;

  const int c = threadIdx.x / G, n = threadIdx.x % G;
  const int64_t b = blockIdx.y, e0 = int64_t(blockIdx.x) * rows, e = e0 + c;
  const bool owns_state = e < a.dim && n < a.dstate;
  const float A = owns_state ? a.A[e * a.dstate + n] : 0.f;
  const int64_t chunks = (a.length + kChunk - 1) / kChunk;  // num_chunks(), host-only

  float h = 0.f;
  for (int64_t k = 0; k < chunks; ++k) {
    const int64_t s = k * kChunk;
    const int len = static_cast<int>(a.length - s < kChunk ? a.length - s : kChunk);
    if (owns_state) states[((b * a.dim + e) * chunks + k) * a.dstate + n] = h;
    stage_chunk<T>(a, G, rows, b, e0, s, len, s_u, s_dt, nullptr, gated ? s_z : nullptr, s_B, s_C);
    __syncthreads();
    for (int t = 0; t < len; ++t) {
      const float dt = s_dt[c * kPitch + t];
      h = expf(dt * A) * h + dt * s_B[n * kPitch + t] * s_u[c * kPitch + t];
      const float y = group_sum(s_C[n * kPitch + t] * h, G);
      if (n == 0) s_y[c * kPitch + t] = y;
    }
    __syncthreads();
    // y + D u, gated, written back coalesced along L.
    for (int i = threadIdx.x; i < rows * kChunk; i += kThreads) {
      const int r = i / kChunk, t = i % kChunk;
      const int64_t er = e0 + r;
      if (er >= a.dim || t >= len) continue;
      const int q = r * kPitch + t;
      float y = s_y[q] + (a.D ? a.D[er] * s_u[q] : 0.f);
      if (gated) y *= s_z[q] * sigmoid(s_z[q]);
      store(out + (b * a.dim + er) * a.length + s + t, y);
    }
    __syncthreads();  // the next chunk overwrites the staged inputs
  }
}

// The backward, last chunk first. Per step, with lambda_t = d loss / d h_t (carried backwards:
// lambda_t = gy_t C_t + a_{t+1} lambda_{t+1}, a_t = exp(dt_t A), gy = d loss / d y):
//   dB_t[n] += lambda dt u    du_t += sum_n lambda dt B_t[n] + gy D
//   dA[n]   += lambda dt a_t h_{t-1}    d dt_t = sum_n lambda (A a_t h_{t-1} + B_t[n] u)
//   dC_t[n] += gy h_t    dD += gy u    dz = gout y SiLU'(z)
// h_{t-1} of the chunk comes from a forward recomputation into shared memory (hist).
template <typename T>
__global__ void __launch_bounds__(kThreads)
    backward_kernel(const ScanArgs a, const int G, const float* __restrict__ states,
                    const ScanGrads g) {
  extern __shared__ float smem[];
  const int rows = kThreads / G;
  float* hist = smem;                               // (kChunk + 1) x kThreads: h before each step
  float* dc_part = hist + (kChunk + 1) * kThreads;  // kChunk x kThreads: gy h, per thread
  float* s_u = dc_part + kChunk * kThreads;         // u, then du
  float* s_dt = s_u + rows * kPitch;                // dt, then d raw delta
  float* s_dsp = s_dt + rows * kPitch;
  float* s_z = s_dsp + rows * kPitch;  // z, then dz
  float* s_g = s_z + rows * kPitch;    // gout, then gy
  float* s_B = s_g + rows * kPitch;
  float* s_C = s_B + G * kPitch;
  const bool gated = a.z.data != nullptr;
  const int tid = threadIdx.x, c = tid / G, n = tid % G;
  const int64_t b = blockIdx.y, e0 = int64_t(blockIdx.x) * rows, e = e0 + c;
  const bool owns_channel = e < a.dim, owns_state = owns_channel && n < a.dstate;
  const float A = owns_state ? a.A[e * a.dstate + n] : 0.f;
  const float D = owns_channel && a.D ? a.D[e] : 0.f;
  const int64_t chunks = (a.length + kChunk - 1) / kChunk;  // num_chunks(), host-only
  const T* gout = static_cast<const T*>(g.gout);

  float lambda = 0.f, a_next = 0.f, dA = 0.f, dD = 0.f, dbias = 0.f;
  for (int64_t k = chunks - 1; k >= 0; --k) {
    const int64_t s = k * kChunk;
    const int len = static_cast<int>(a.length - s < kChunk ? a.length - s : kChunk);
    stage_chunk<T>(a, G, rows, b, e0, s, len, s_u, s_dt, s_dsp, gated ? s_z : nullptr, s_B, s_C);
    for (int i = tid; i < rows * kChunk; i += kThreads) {
      const int r = i / kChunk, t = i % kChunk;
      const bool in = e0 + r < a.dim && t < len;
      s_g[r * kPitch + t] = in ? load(gout + (b * a.dim + e0 + r) * a.length + s + t) : 0.f;
    }
    __syncthreads();

    // Forward again through the chunk: the states, gy, C's partial gradients and dz.
    float h = owns_state ? states[((b * a.dim + e) * chunks + k) * a.dstate + n] : 0.f;
    hist[tid] = h;
    for (int t = 0; t < len; ++t) {
      const int q = c * kPitch + t;
      const float dt = s_dt[q], u = s_u[q], go = s_g[q];
      h = expf(dt * A) * h + dt * s_B[n * kPitch + t] * u;
      hist[(t + 1) * kThreads + tid] = h;
      const float z = gated ? s_z[q] : 0.f, sz = gated ? sigmoid(z) : 0.f;
      const float gy = gated ? go * z * sz : go;
      dc_part[t * kThreads + tid] = gy * h;
      const float y = group_sum(s_C[n * kPitch + t] * h, G) + D * u;
      __syncwarp();  // the group's lanes have read s_g[q] and s_z[q] before lane 0 rewrites them
      if (n == 0) {
        if (gated) s_z[q] = go * y * sz * (1.f + z * (1.f - sz));
        s_g[q] = gy;
      }
    }
    __syncthreads();

    // Backwards through the chunk.
    for (int t = len - 1; t >= 0; --t) {
      const int q = c * kPitch + t;
      const float gy = s_g[q], dt = s_dt[q], u = s_u[q];
      const float Bn = s_B[n * kPitch + t], Cn = s_C[n * kPitch + t];
      lambda = gy * Cn + a_next * lambda;
      const float a_t = expf(dt * A), h_prev = hist[t * kThreads + tid];
      hist[(t + 1) * kThreads + tid] = lambda * dt * u;  // h_t is spent: B's partial goes there
      dA += lambda * dt * a_t * h_prev;
      const float du = group_sum(lambda * dt * Bn, G);
      const float ddt = group_sum(lambda * (A * a_t * h_prev + Bn * u), G);
      __syncwarp();
      if (n == 0) {
        const float draw = ddt * s_dsp[q];
        s_u[q] = du + gy * D;
        s_dt[q] = draw;
        dD += gy * u;
        dbias += draw;
      }
      a_next = a_t;
    }
    __syncthreads();

    for (int i = tid; i < rows * kChunk; i += kThreads) {
      const int r = i / kChunk, t = i % kChunk;
      if (e0 + r >= a.dim || t >= len) continue;
      const int q = r * kPitch + t;
      const int64_t at = (b * a.dim + e0 + r) * a.length + s + t;
      store(static_cast<T*>(g.du) + at, s_u[q]);
      store(static_cast<T*>(g.ddelta) + at, s_dt[q]);
      if (gated) store(static_cast<T*>(g.dz) + at, s_z[q]);
    }
    // B's and C's gradients: this block's channels summed here, the other blocks' atomically.
    for (int i = tid; i < G * kChunk; i += kThreads) {
      const int t = i / G, m = i % G;
      if (m >= a.dstate || t >= len) continue;
      float sb = 0.f, sc = 0.f;
      for (int r = 0; r < rows; ++r) {
        sb += hist[(t + 1) * kThreads + r * G + m];
        sc += dc_part[t * kThreads + r * G + m];
      }
      const int64_t at = (b * a.dstate + m) * a.length + s + t;
      atomicAdd(g.dB + at, sb);
      atomicAdd(g.dC + at, sc);
    }
    __syncthreads();
  }
  if (owns_state) atomicAdd(g.dA + e * a.dstate + n, dA);
  if (owns_channel && n == 0) {
    if (g.dD) atomicAdd(g.dD + e, dD);
    if (g.ddelta_bias) atomicAdd(g.ddelta_bias + e, dbias);
  }
}

// Lanes per channel: N rounded up to a power of two, at least 4 (so at most 32 rows per block).
int group_for(int64_t dstate) {
  int G = 4;
  while (G < dstate) G <<= 1;
  return G;
}

size_t forward_shared_bytes(int G) {
  return sizeof(float) * (4 * (kThreads / G) * kPitch + 2 * G * kPitch);
}

size_t backward_shared_bytes(int G) {
  return sizeof(float) *
         ((2 * kChunk + 1) * kThreads + 5 * (kThreads / G) * kPitch + 2 * G * kPitch);
}

cudaError_t check_args(const ScanArgs& a) {
  if (a.batch < 1 || a.dim < 1 || a.length < 1 || a.dstate < 1 || a.dstate > kMaxState)
    return cudaErrorInvalidValue;
  if (a.batch > 65535) return cudaErrorInvalidConfiguration;  // gridDim.y
  return cudaSuccess;
}

dim3 grid_for(const ScanArgs& a, int G) {
  const int64_t rows = kThreads / G;
  return dim3(static_cast<unsigned>((a.dim + rows - 1) / rows), static_cast<unsigned>(a.batch));
}

template <typename T>
cudaError_t launch_forward(const ScanArgs& a, void* out, float* states, cudaStream_t stream) {
  const int G = group_for(a.dstate);
  forward_kernel<T><<<grid_for(a, G), kThreads, forward_shared_bytes(G), stream>>>(
      a, G, static_cast<T*>(out), states);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_backward(const ScanArgs& a, const float* states, const ScanGrads& g,
                            cudaStream_t stream) {
  const int G = group_for(a.dstate);
  const size_t bytes = backward_shared_bytes(G);
  if (bytes > kDefaultSharedBytes) {  // N <= 4: 32 rows per block; every target allows 64 KiB
    const cudaError_t err = cudaFuncSetAttribute(
        backward_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
    if (err != cudaSuccess) return err;
  }
  backward_kernel<T><<<grid_for(a, G), kThreads, bytes, stream>>>(a, G, states, g);
  return cudaGetLastError();
}

}  // namespace

cudaError_t scan_forward(const ScanArgs& args, void* out, float* states, cudaStream_t stream) {
  if (const cudaError_t err = check_args(args); err != cudaSuccess) return err;
  switch (args.dtype) {
    case DType::kFloat32:
      return launch_forward<float>(args, out, states, stream);
    case DType::kBFloat16:
      return launch_forward<__nv_bfloat16>(args, out, states, stream);
    case DType::kFloat16:
      return launch_forward<__half>(args, out, states, stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t scan_backward(const ScanArgs& args, const float* states, const ScanGrads& grads,
                          cudaStream_t stream) {
  if (const cudaError_t err = check_args(args); err != cudaSuccess) return err;
  switch (args.dtype) {
    case DType::kFloat32:
      return launch_backward<float>(args, states, grads, stream);
    case DType::kBFloat16:
      return launch_backward<__nv_bfloat16>(args, states, grads, stream);
    case DType::kFloat16:
      return launch_backward<__half>(args, states, grads, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace dfer::models::cuda_scan
