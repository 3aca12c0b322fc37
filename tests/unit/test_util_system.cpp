// Thread configuration and the environment report.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include <limits>
#include <tuple>

#include "dfer/util/system.h"

TEST_CASE("configure_threads honours an explicit count and the OMP_NUM_THREADS fallback") {
  REQUIRE(dfer::configure_threads(2) == 2);
  setenv("OMP_NUM_THREADS", "1", 1);
  REQUIRE(dfer::configure_threads(0) == 1);
  unsetenv("OMP_NUM_THREADS");
  REQUIRE(dfer::configure_threads(0) >= 1);
}

TEST_CASE("the BLAS in use is detected and is not the netlib reference") {
  // PyPI's LibTorch links MKL in; a process on the netlib reference BLAS would train ~20x slower.
  auto blas = dfer::detect_blas();
  INFO("detected: " << blas.name << " at " << blas.path);
  REQUIRE(blas.name != "unknown");
  REQUIRE_FALSE(blas.slow_reference);
}

TEST_CASE("GEMM measurement returns a positive rate and the report names its parts") {
  dfer::configure_threads(1);
  REQUIRE(dfer::measure_gemm_gflops("fp32", 128, 3) > 0.0);
  auto report = dfer::environment_report(false);
  REQUIRE_THAT(report, Catch::Contains("LibTorch version"));
  REQUIRE_THAT(report, Catch::Contains("BLAS"));
  REQUIRE_THAT(report, Catch::Contains("intra-op threads"));
}

TEST_CASE("fp32 matmuls are right for every transpose and odd sizes") {
  torch::manual_seed(3);
  // mm on (transposed) views reaches the BLAS with each transa/transb and leading dimension.
  for (auto [m, k, n] : {std::tuple{1, 1, 1}, {7, 13, 5}, {64, 96, 33}, {300, 257, 129}}) {
    const auto a = torch::randn({m, k}), b = torch::randn({k, n});
    const auto at = torch::randn({k, m}).t(), bt = torch::randn({n, k}).t();
    for (const auto& [x, y] : {std::pair{a, b}, {at, b}, {a, bt}, {at, bt}}) {
      const auto want = torch::mm(x.to(torch::kDouble), y.to(torch::kDouble));
      const auto got = torch::mm(x, y).to(torch::kDouble);
      CHECK(torch::allclose(got, want, 1e-4, 1e-4));
    }
  }
  // addmm with beta != 0 and alpha != 1 (the Linear layers' bias path).
  const auto c = torch::randn({17, 9}), a = torch::randn({17, 31}), b = torch::randn({31, 9});
  const auto want =
      (0.5 * c.to(torch::kDouble) + 2.0 * torch::mm(a.to(torch::kDouble), b.to(torch::kDouble)));
  CHECK(torch::allclose(torch::addmm(c, a, b, 0.5, 2.0).to(torch::kDouble), want, 1e-4, 1e-4));
}

TEST_CASE("malloc is bound to the allocator the programs are built with") {
  const auto report = dfer::malloc_report();
  INFO(report);
#ifdef DFER_TCMALLOC_LINKED
  // Linked as a program of the project: tcmalloc, not glibc, serves every allocation.
  REQUIRE_THAT(report, Catch::StartsWith("tcmalloc (gperftools 2."));
#else
  REQUIRE(report == "glibc");
#endif
  REQUIRE_THAT(dfer::environment_report(false), Catch::Contains("malloc           : " + report));
}

TEST_CASE("the report names the CUDA build: versions compiled in and the devices seen") {
  const auto report = dfer::cuda_report();
  REQUIRE_THAT(report, Catch::Contains("CUDA devices"));
#ifdef DFER_WITH_CUDA
  // A CUDA LibTorch must report real versions, also on a machine without a GPU.
  REQUIRE_THAT(report, Catch::Contains("CUDA compiled in : yes (CUDA 1"));
  REQUIRE_THAT(report, Catch::Contains("NCCL 2."));
#endif
}

TEST_CASE("MKL's vendor check is answered by this program, and GEMMs stay right on 2 threads") {
  if (!at::hasMKL()) return;
  const auto report = dfer::mkl_dispatch_report();
  INFO(report);
  REQUIRE_THAT(report, !Catch::Contains("NOT bound") && !Catch::Contains("carries no answer"));
  dfer::configure_threads(2);
  torch::manual_seed(4);
  // beta = 0 must ignore C entirely, NaN included (BLAS semantics), on more than one thread.
  const auto a = torch::randn({257, 300}), b = torch::randn({300, 203});
  const auto c = torch::full({257, 203}, std::numeric_limits<float>::quiet_NaN());
  const auto got = torch::addmm(c, a, b, /*beta=*/0.0, /*alpha=*/1.0);
  const auto want = torch::mm(a.to(torch::kDouble), b.to(torch::kDouble));
  CHECK(torch::isfinite(got).all().item<bool>());
  CHECK(torch::allclose(got.to(torch::kDouble), want, 1e-4, 1e-4));
  // bf16 GEMMs (also MKL's on this build) against float64 at bf16 rounding.
  const auto g16 = torch::mm(a.to(torch::kBFloat16), b.to(torch::kBFloat16)).to(torch::kDouble);
  const auto w16 = torch::mm(a.to(torch::kBFloat16).to(torch::kDouble),
                             b.to(torch::kBFloat16).to(torch::kDouble));
  CHECK(torch::allclose(g16, w16, 2e-2, 1e-1));
  dfer::configure_threads(1);
}
