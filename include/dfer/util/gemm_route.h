// Where fp32 GEMMs go: through oneDNN when the build found it (an sgemm_ that the executables
// define ahead of the system BLAS), else to the system BLAS.
#pragma once

namespace dfer {

// "oneDNN (dnnl_sgemm)", or why not ("system BLAS (...)"). DFER_BLAS_SGEMM=1 opts out at run time.
const char* fp32_gemm_route();

}  // namespace dfer
