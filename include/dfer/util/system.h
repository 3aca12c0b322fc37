// Process setup shared by every executable (threads, logging) and the environment report that
// `dfer-model env` prints for bug reports.
#pragma once

#include <string>

namespace dfer {

// First thing in main: console logging and LibTorch's inter-op pool (which can be sized only once,
// before any parallel work). Safe to call more than once.
void init_process(bool verbose = false);

// Sets LibTorch's intra-op thread count. `requested` <= 0 means: OMP_NUM_THREADS if set, else the
// hardware concurrency. LibTorch on these machines starts with 1 thread, so every executable calls
// this explicitly. Returns the count in effect.
int configure_threads(int requested);

// Makes the OpenMP kernels (LibTorch's) that the calling thread runs use this thread alone: a
// per-thread OpenMP setting, the process-wide count stays. For helper threads such as loader
// workers, whose parallel regions would otherwise fight the compute threads for the same cores.
void use_single_thread_kernels_here();

// The same for a scope: while alive, the calling thread's OpenMP kernels run on it alone; its
// previous count comes back on destruction. For work done between compute steps on the thread that
// also computes (the loader with num_workers 0).
class SingleThreadKernels {
 public:
  SingleThreadKernels();
  ~SingleThreadKernels();
  SingleThreadKernels(const SingleThreadKernels&) = delete;
  SingleThreadKernels& operator=(const SingleThreadKernels&) = delete;

 private:
  int previous_ = 0;
};

// The BLAS library actually mapped into this process ("BLIS (OpenMP)", "OpenBLAS", "MKL",
// "reference BLAS (netlib)", or "unknown") and the path it was loaded from.
struct BlasInfo {
  std::string name;
  std::string path;
  bool slow_reference = false;
};
BlasInfo detect_blas();

// Measured GEMM rate in GFLOP/s for an n x n x n matmul of the given dtype ("fp32", "bf16"),
// median of `reps` runs after one warm-up. Returns a negative value if the dtype is unsupported.
double measure_gemm_gflops(const std::string& dtype, int n = 1024, int reps = 5);

// What MKL's CPU-vendor check answers in this process: the executables answer it themselves on
// non-Intel CPUs with AVX2+FMA (tools/support/mkl_cpu_dispatch.cpp). Checks with dlsym that the
// definition the dynamic linker bound is the program's; says so when it is not, or when the
// program carries none (e.g. another program linking the library).
std::string mkl_dispatch_report();

// The malloc this process runs on: "tcmalloc (gperftools X.Y)" when the program was linked with it
// (the executables are, see CMakeLists.txt), else the library that defines the bound `malloc`
// ("glibc" for libc). Found with dladdr on the address the dynamic linker bound, not assumed.
std::string malloc_report();

// CUDA lines of the report: the CUDA, cuDNN and NCCL versions LibTorch was built with (when it
// has CUDA) and the devices seen.
std::string cuda_report();

// Multi-line human report: LibTorch version and build configuration, CUDA devices, BLAS, threads,
// measured GEMM throughput (fp32 and bf16), with a loud warning for the reference BLAS.
std::string environment_report(bool measure = true);

}  // namespace dfer
