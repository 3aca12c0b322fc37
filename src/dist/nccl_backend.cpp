// The NCCL backend maker (see backends.h). Compiled with CUDA LibTorch only: ProcessGroupNCCL's
// header needs USE_C10D_NCCL and nccl.h, taken from the NCCL wheel that LibTorch loads at run time
// (its version decides the class layout, so it must be that one, not the CUDA toolkit's).
#include "backends.h"

#include "dfer/util/error.h"

#ifdef DFER_WITH_CUDA
#define USE_C10D_NCCL 1
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace dfer::dist::detail {

bool nccl_compiled() {
#ifdef DFER_WITH_CUDA
  return true;
#else
  return false;
#endif
}

c10::intrusive_ptr<c10d::Backend> make_nccl(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                            int size, std::chrono::milliseconds timeout,
                                            int device) {
#ifdef DFER_WITH_CUDA
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(device));
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, options);
#else
  (void)store, (void)rank, (void)size, (void)timeout, (void)device;
  throw UsageError(
      "system.dist_backend: nccl needs a CUDA build of dfer (this one was built against a "
      "LibTorch without CUDA); use gloo");
#endif
}

}  // namespace dfer::dist::detail
