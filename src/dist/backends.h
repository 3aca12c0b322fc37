// Private to dist: makers of the c10d collective backends, each in its own file because their
// headers need macros (USE_C10D_GLOO, USE_C10D_NCCL) and third-party headers (gloo, nccl.h).
#pragma once

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <string>

namespace dfer::dist::detail {

// Gloo over TCP. The interface: GLOO_SOCKET_IFNAME when set (comma-separated names, as PyTorch
// reads it), the loopback address when `master_addr` is a loopback one, else the host's default.
c10::intrusive_ptr<c10d::Backend> make_gloo(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                            int size, std::chrono::milliseconds timeout,
                                            const std::string& master_addr);

// NCCL on CUDA device `device`; a dfer::UsageError in builds without CUDA.
c10::intrusive_ptr<c10d::Backend> make_nccl(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                            int size, std::chrono::milliseconds timeout,
                                            int device);

bool nccl_compiled();

}  // namespace dfer::dist::detail
