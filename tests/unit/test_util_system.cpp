// Thread configuration and the environment report.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "dfer/util/system.h"

TEST_CASE("configure_threads honours an explicit count and the OMP_NUM_THREADS fallback") {
  REQUIRE(dfer::configure_threads(2) == 2);
  setenv("OMP_NUM_THREADS", "1", 1);
  REQUIRE(dfer::configure_threads(0) == 1);
  unsetenv("OMP_NUM_THREADS");
  REQUIRE(dfer::configure_threads(0) >= 1);
}

TEST_CASE("the BLAS in use is detected and is not the netlib reference") {
  // The build installs libblis4-openmp; a process on the reference BLAS would train ~20x slower.
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
