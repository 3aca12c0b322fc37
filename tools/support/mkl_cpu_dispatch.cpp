// MKL's CPU-vendor check, answered for the executables (linked into every program of the project,
// never into the library): the MKL inside PyPI's LibTorch runs its slow generic kernels on any CPU
// it does not recognise as Intel's, whatever instructions the CPU has. Measured on a 2-core AMD
// EPYC with AVX-512: fp32 GEMM 1024^3 93-118 -> 191-195 GFLOP/s (bf16 GEMMs go to oneDNN, which
// has no such check).
//
// MKL calls mkl_serv_intel_cpu_true() through libtorch_cpu.so's PLT, so this definition (exported
// by the link option in CMakeLists.txt) takes its place. Kernels are still chosen from the CPU's
// own feature flags (CPUID), so a CPU gets only instructions it has; the answer is "Intel" only
// where the CPU has at least AVX2 and FMA. DFER_MKL_VENDOR_CHECK=1 keeps MKL's own answer.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

using VendorCheck = int (*)();

// MKL's own function, the next definition after this executable's; without it there is no MKL to
// answer for, and returning a guess would hide a broken install.
int mkl_own_answer() {
  static const auto own =
      reinterpret_cast<VendorCheck>(dlsym(RTLD_NEXT, "mkl_serv_intel_cpu_true"));
  if (!own) {
    std::fprintf(stderr,
                 "dfer: mkl_serv_intel_cpu_true called but MKL's own definition is not found "
                 "(RTLD_NEXT); the LibTorch in use is not the one the project builds against\n");
    std::abort();
  }
  return own();
}

bool keep_mkl_check() {
  const char* v = std::getenv("DFER_MKL_VENDOR_CHECK");
  return v && std::strcmp(v, "1") == 0;
}

bool cpu_has_avx2_fma() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

const char* g_state = "not asked by MKL yet";

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int mkl_serv_intel_cpu_true() {
  static const int answer = [] {
    if (keep_mkl_check()) {
      g_state = "MKL's own vendor check (DFER_MKL_VENDOR_CHECK=1)";
      return mkl_own_answer();
    }
    if (mkl_own_answer()) {
      g_state = "Intel CPU: MKL's own answer";
      return 1;
    }
    if (!cpu_has_avx2_fma()) {
      g_state = "MKL's own vendor check (CPU without AVX2+FMA)";
      return 0;
    }
    g_state =
        "vendor check answered for this non-Intel CPU with AVX2+FMA "
        "(DFER_MKL_VENDOR_CHECK=1 restores MKL's own)";
    return 1;
  }();
  return answer;
}

// For the environment report (dfer::mkl_dispatch_report, found with dlsym): what MKL was told, and
// this program's definition, to compare with the one the dynamic linker bound.
__attribute__((visibility("default"))) const char* dfer_mkl_cpu_dispatch(const void** ours) {
  if (ours) *ours = reinterpret_cast<const void*>(&mkl_serv_intel_cpu_true);
  return g_state;
}

}  // extern "C"
