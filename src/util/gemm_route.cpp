// fp32 GEMM routing: LibTorch 1.13 sends fp32 matmuls to the system BLAS's sgemm_ (here BLIS,
// ~50 GFLOP/s on 2 cores) and refuses its own oneDNN path for fp32. When Debian's oneDNN is
// installed, this file defines sgemm_ in the executable, which the dynamic linker binds ahead of
// the BLAS library's, and runs the call through dnnl_sgemm (AVX-512 kernels: ~360 GFLOP/s here).
#include "dfer/util/gemm_route.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>

#if __has_include(<oneapi/dnnl/dnnl.h>)
#include <oneapi/dnnl/dnnl.h>
#define DFER_HAVE_ONEDNN 1
#else
#define DFER_HAVE_ONEDNN 0
#endif

namespace dfer {

#if DFER_HAVE_ONEDNN
namespace {

using BlasSgemm = void (*)(const char*, const char*, const int*, const int*, const int*,
                           const float*, const float*, const int*, const float*, const int*,
                           const float*, float*, const int*);

// The BLAS library's own sgemm_ (the next definition after ours), for opt-out and fallback.
BlasSgemm next_sgemm() {
  static const BlasSgemm f = reinterpret_cast<BlasSgemm>(dlsym(RTLD_NEXT, "sgemm_"));
  return f;
}

bool routing_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("DFER_BLAS_SGEMM");
    return !(v && std::strcmp(v, "1") == 0);
  }();
  return on;
}

}  // namespace

const char* fp32_gemm_route() {
  return routing_enabled() ? "oneDNN (dnnl_sgemm)" : "system BLAS (DFER_BLAS_SGEMM=1)";
}

}  // namespace dfer

// Fortran BLAS interface, column-major. Column-major C = op(A) op(B) is row-major
// C^T = op(B)^T op(A)^T, i.e. dnnl_sgemm (row-major) with the operands and sizes swapped.
extern "C" void sgemm_(const char* transa, const char* transb, const int* m, const int* n,
                       const int* k, const float* alpha, const float* a, const int* lda,
                       const float* b, const int* ldb, const float* beta, float* c,
                       const int* ldc) {
  if (dfer::routing_enabled() && dnnl_sgemm(*transb, *transa, *n, *m, *k, *alpha, b, *ldb, a, *lda,
                                            *beta, c, *ldc) == dnnl_success)
    return;
  // Opted out, or a call oneDNN rejects (e.g. a degenerate leading dimension): the BLAS decides.
  if (auto f = dfer::next_sgemm()) f(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

#else

const char* fp32_gemm_route() {
  return "system BLAS (oneDNN not installed)";
}

}  // namespace dfer

#endif
