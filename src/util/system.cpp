// Thread setup, BLAS detection and the environment report (see system.h).
#include "dfer/util/system.h"

#include <dlfcn.h>
#include <link.h>
#include <malloc.h>
#include <torch/torch.h>
#include <torch/version.h>
#ifdef DFER_WITH_CUDA
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/csrc/cuda/nccl.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "dfer/util/log.h"

namespace dfer {

void init_process(bool verbose) {
  init_console_logging(verbose);
  static std::once_flag once;
  std::call_once(once, [] {
    // glibc serves large blocks with fresh mmaps and returns them on free, so every training step
    // and every collated batch page-faults its memory in again, and page faults are slow on
    // virtual machines: measured here, the base LGI-Former's bf16 training forward took 1.79 s
    // instead of 0.57 s, and stacking a batch of 32 clips (157 MB) 600 ms instead of 10 ms. All
    // blocks come from the heap, which is never trimmed (the peak is reached every step anyway).
    // DFER_SYSTEM_MALLOC=1 leaves glibc's defaults alone. The executables now run on tcmalloc
    // (CMakeLists.txt), which needs none of this; a program that links the library without it
    // still gets the tuned glibc heap.
    const bool tcmalloc = malloc_report().rfind("tcmalloc", 0) == 0;
    if (const char* keep = std::getenv("DFER_SYSTEM_MALLOC");
        !tcmalloc && (!keep || std::string(keep) != "1")) {
      mallopt(M_MMAP_MAX, 0);
      // Worker threads would otherwise get arenas of their own, which glibc builds from 64 MiB
      // mmapped heaps: the loader's workers then page-faulted every batch (68 clips/s with one
      // worker against 780 on the main thread). One arena keeps them on the same warm heap.
      mallopt(M_ARENA_MAX, 1);
      mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
    }
    // dfer issues no asynchronous inter-op work; one inter-op thread avoids oversubscription.
    try {
      at::set_num_interop_threads(1);
    } catch (const std::exception&) {
      // Already fixed by earlier parallel work (e.g. in a test binary): harmless.
    }
  });
}

int configure_threads(int requested) {
  int n = requested;
  if (n <= 0) {
    if (const char* env = std::getenv("OMP_NUM_THREADS"); env && std::atoi(env) > 0)
      n = std::atoi(env);
    else
      n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  torch::set_num_threads(n);
  return torch::get_num_threads();
}

namespace {
// Resolved at run time: the OpenMP runtime comes with LibTorch, not with this library's link.
void omp_set_threads(int n) {
  using SetThreads = void (*)(int);
  static auto* f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  if (f) f(n);
}
int omp_max_threads() {
  using GetThreads = int (*)();
  static auto* f = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
  return f ? f() : 0;
}
}  // namespace

void use_single_thread_kernels_here() {
  omp_set_threads(1);
}

SingleThreadKernels::SingleThreadKernels() : previous_(omp_max_threads()) {
  omp_set_threads(1);
}
SingleThreadKernels::~SingleThreadKernels() {
  if (previous_ > 0) omp_set_threads(previous_);
}

namespace {

int collect_blas(struct dl_phdr_info* info, size_t, void* data) {
  auto* found = static_cast<std::vector<std::string>*>(data);
  std::string path = info->dlpi_name ? info->dlpi_name : "";
  auto file = std::filesystem::path(path).filename().string();
  if (file.find("blas") != std::string::npos || file.find("blis") != std::string::npos ||
      file.find("mkl_") != std::string::npos)
    found->push_back(path);
  return 0;
}

}  // namespace

BlasInfo detect_blas() {
  // PyPI's LibTorch carries MKL linked in (nothing to find among the mapped libraries).
  if (at::hasMKL()) return {"MKL (linked into LibTorch)", "libtorch_cpu", false};
  std::vector<std::string> libs;
  dl_iterate_phdr(collect_blas, &libs);
  BlasInfo info{"unknown", "", false};
  for (const auto& lib : libs) {
    std::error_code ec;
    // Debian selects the BLAS through the alternatives symlinks: the real path names the provider.
    auto real = std::filesystem::canonical(lib, ec).string();
    if (ec) real = lib;
    std::string name;
    if (real.find("blis") != std::string::npos)
      name = real.find("openmp") != std::string::npos ? "BLIS (OpenMP)" : "BLIS";
    else if (real.find("openblas") != std::string::npos)
      name = "OpenBLAS";
    else if (real.find("mkl") != std::string::npos)
      name = "MKL";
    else if (real.find("/blas/") != std::string::npos ||
             real.find("libblas.so") != std::string::npos)
      name = "reference BLAS (netlib)";
    if (!name.empty()) {
      info = {name, real, name.rfind("reference", 0) == 0};
      if (!info.slow_reference) break;  // prefer a fast provider if several are mapped
    }
  }
  return info;
}

double measure_gemm_gflops(const std::string& dtype, int n, int reps) {
  torch::NoGradGuard no_grad;
  auto st = dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32;
  torch::Tensor a, b;
  try {
    a = torch::randn({n, n}).to(st);
    b = torch::randn({n, n}).to(st);
    auto warm = torch::mm(a, b);
  } catch (const std::exception&) {
    return -1.0;
  }
  std::vector<double> secs;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto c = torch::mm(a, b);
    auto t1 = std::chrono::steady_clock::now();
    secs.push_back(std::chrono::duration<double>(t1 - t0).count());
  }
  std::sort(secs.begin(), secs.end());
  double median = secs[secs.size() / 2];
  return 2.0 * n * n * static_cast<double>(n) / median / 1e9;
}

std::string mkl_dispatch_report() {
  using Query = const char* (*)(const void**);
  auto* query = reinterpret_cast<Query>(dlsym(RTLD_DEFAULT, "dfer_mkl_cpu_dispatch"));
  if (!query) return "MKL's own vendor check (this program carries no answer of its own)";
  using VendorCheck = int (*)();
  auto* bound = reinterpret_cast<VendorCheck>(dlsym(RTLD_DEFAULT, "mkl_serv_intel_cpu_true"));
  const void* ours = nullptr;
  query(&ours);
  if (!bound || reinterpret_cast<const void*>(bound) != ours)
    return "this program's answer is NOT bound: MKL keeps its own vendor check";
  bound();  // settles the answer if MKL has not asked yet
  return query(nullptr);
}

std::string malloc_report() {
  Dl_info info{};
  void* bound = reinterpret_cast<void*>(&std::malloc);
  if (dladdr(bound, &info) == 0 || info.dli_fname == nullptr) return "unknown";
  const std::string lib = std::filesystem::path(info.dli_fname).filename().string();
  using TcVersion = const char* (*)(int*, int*, const char**);
  if (lib.find("tcmalloc") != std::string::npos) {
    int major = 0, minor = 0;
    const char* patch = nullptr;
    if (auto v = reinterpret_cast<TcVersion>(dlsym(RTLD_DEFAULT, "tc_version")))
      v(&major, &minor, &patch);
    return fmt::format("tcmalloc (gperftools {}.{}, {})", major, minor, lib);
  }
  return lib.rfind("libc.so", 0) == 0 ? "glibc" : lib;
}

std::string cuda_report() {
  std::string out;
#ifdef DFER_WITH_CUDA
  // Versions are written as the libraries encode them: CUDA 13020 = 13.2, cuDNN 92600 = 9.26.0.
  const auto& hooks = at::detail::getCUDAHooks();
  const long cudart = hooks.versionCUDART(), cudnn = hooks.versionCuDNN();
  const auto nccl = torch::cuda::nccl::version();
  out += fmt::format("  CUDA compiled in : yes (CUDA {}.{}, cuDNN {}.{}.{}, NCCL {}.{}.{})\n",
                     cudart / 1000, cudart % 1000 / 10, cudnn / 10000, cudnn % 10000 / 100,
                     cudnn % 100, nccl >> 32, (nccl >> 16) & 0xffff, nccl & 0xffff);
#else
  out += "  CUDA compiled in : no (CPU-only LibTorch)\n";
#endif
  const bool avail = torch::cuda::is_available();
  out += fmt::format("  CUDA devices     : {}\n", avail ? torch::cuda::device_count() : 0);
  return out;
}

std::string environment_report(bool measure) {
  std::string out;
  out += fmt::format("dfer environment\n");
  out += fmt::format("  LibTorch version : {}\n", TORCH_VERSION);
  out += cuda_report();
  auto blas = detect_blas();
  out += fmt::format("  BLAS             : {} ({})\n", blas.name,
                     blas.path.empty() ? "no BLAS library mapped" : blas.path);
  out += fmt::format("  oneDNN (mkldnn)  : {}\n", at::hasMKLDNN() ? "yes" : "no");
  out += fmt::format("  malloc           : {}\n", malloc_report());
  if (at::hasMKL()) out += fmt::format("  MKL CPU dispatch : {}\n", mkl_dispatch_report());
  out += fmt::format("  intra-op threads : {}\n", torch::get_num_threads());
  out += fmt::format("  inter-op threads : {}\n", at::get_num_interop_threads());
  out += fmt::format("  hardware threads : {}\n", std::thread::hardware_concurrency());
  if (measure) {
    double f32 = measure_gemm_gflops("fp32");
    double bf16 = measure_gemm_gflops("bf16");
    out += fmt::format("  GEMM 1024^3 fp32 : {:.1f} GFLOP/s\n", f32);
    if (bf16 > 0)
      out += fmt::format("  GEMM 1024^3 bf16 : {:.1f} GFLOP/s\n", bf16);
    else
      out += "  GEMM 1024^3 bf16 : unsupported\n";
  }
  if (blas.slow_reference)
    out +=
        "\n  WARNING: LibTorch runs on the netlib reference BLAS (~3 GFLOP/s): install a fast "
        "BLAS\n"
        "  (Debian: apt-get install libblis4-openmp) or training will be 20x slower.\n";
  out += "\nLibTorch build configuration:\n" + at::show_config();
  return out;
}

}  // namespace dfer
