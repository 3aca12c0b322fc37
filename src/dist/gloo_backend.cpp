// The Gloo backend maker (see backends.h). ProcessGroupGloo's header is compiled only with
// USE_C10D_GLOO and needs gloo's headers (Debian's libgloo-dev: declarations only; the code that
// runs is the Gloo built into libtorch_cpu).
#include "backends.h"

#include "dfer/util/error.h"

#ifndef DFER_NO_GLOO
#define USE_C10D_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include <cstdlib>
#include <sstream>
#endif

namespace dfer::dist::detail {

c10::intrusive_ptr<c10d::Backend> make_gloo(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                            int size, std::chrono::milliseconds timeout,
                                            const std::string& master_addr) {
#ifdef DFER_NO_GLOO
  (void)store, (void)rank, (void)size, (void)timeout, (void)master_addr;
  throw UsageError(
      "system.dist_backend: gloo is not in this build (no gloo headers: the GPU "
      "check build); use nccl");
#else
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  const char* ifnames = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifnames && *ifnames) {
    std::stringstream ss(ifnames);
    for (std::string name; std::getline(ss, name, ',');)
      if (!name.empty())
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
  } else if (master_addr == "127.0.0.1" || master_addr == "localhost" || master_addr == "::1") {
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(master_addr));
  } else {
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, options);
#endif
}

}  // namespace dfer::dist::detail
