// The check of the fused selective scans (`dfer-model scan-check`, run by tools/gpu_check.sh on
// a GPU): the fused CUDA kernel, or on the CPU the fused CPU scan, against the chunked LibTorch
// scan, forward and every input gradient, and the time of each.
#pragma once

#include <torch/torch.h>

#include <string>

namespace dfer::models {

struct ScanCheckOptions {
  torch::Device device = torch::kCPU;
  int runs = 5;  // timed repetitions per measurement (the median is reported)
};

struct ScanCheckResult {
  std::string report;  // one line per case, then the verdict
  bool passed = true;
};

// On CUDA (a build with the kernel): a few shapes, VideoMamba-S's (B 2, E 768, N 16, L 1601)
// among them, in fp32 (tolerance 1e-4 of the largest reference value) and bf16 inputs (2e-2:
// both sides round the same fp32 results to bf16, one ulp is 2^-8 of the value). Elsewhere it
// says why the kernel was not checked, checks the fused CPU scan against the chunked scan the
// same way (fp32, VideoMamba-S's shape among them, with the median times of both at the current
// intra-op thread count: `dfer-model --threads 2 scan-check --device cpu` is the CPU benchmark)
// and the chunked scan against the sequential loop. Fails on CUDA when this build has no kernel.
ScanCheckResult check_scan_kernel(const ScanCheckOptions& options);

}  // namespace dfer::models
