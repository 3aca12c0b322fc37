#!/usr/bin/env bash
# Proves a CUDA build: each executable given must need LibTorch's CUDA library, and the first
# (dfer-model: its benchmark reads the CUDA allocator's statistics, its report asks NCCL for its
# version) must hold CUDA-only symbols itself: dfer's own CUDA code paths were compiled, not only
# linked past. The others (training programs) must construct c10d's ProcessGroupNCCL.
# With --scan-kernel first (CMake passes it when nvcc built src/models/cuda/), the first executable
# must also define the fused selective-scan launchers and carry device code (.nv_fatbin).
set -euo pipefail
status=0
scan_kernel=0
if [ "${1:-}" = "--scan-kernel" ]; then
  scan_kernel=1
  shift
fi
first="$1"
for exe in "$@"; do
  needed="$(readelf -d "$exe" | grep -o 'NEEDED.*\[lib[a-z0-9_]*\.so' | sed 's/.*\[//')"
  cuda_calls="$(nm -C "$exe" | grep -c -E 'c10::cuda::|torch::cuda::nccl::' || true)"
  for lib in libtorch_cuda.so; do
    if ! grep -qx "$lib" <<<"$needed"; then
      echo "FAIL: $exe does not need $lib" >&2
      status=1
    fi
  done
  if [ "$exe" = "$first" ] && [ "$cuda_calls" -eq 0 ]; then
    echo "FAIL: $exe holds no c10::cuda / NCCL symbol (CUDA code paths not compiled)" >&2
    status=1
  fi
  if [ "$exe" = "$first" ] && [ $scan_kernel -eq 1 ]; then
    launchers="$(nm -C "$exe" | grep -c -E ' T dfer::models::cuda_scan::scan_(forward|backward)\(' || true)"
    fatbin="$(size -A "$exe" | awk '$1 == ".nv_fatbin" {print $2}')"
    if [ "$launchers" -ne 2 ] || [ -z "$fatbin" ]; then
      echo "FAIL: $exe lacks the selective-scan kernel ($launchers of 2 launchers defined," \
        "device code: ${fatbin:-none})" >&2
      status=1
    else
      echo "$(basename "$exe"): selective-scan kernel linked (scan_forward, scan_backward," \
        "$fatbin bytes of device code)"
    fi
  fi
  # The training programs build c10d's NCCL process group (dist/nccl_backend.cpp).
  nccl="$(nm -C "$exe" | grep -c -E ' U c10d::ProcessGroupNCCL::(ProcessGroupNCCL|Options::Options)\(' || true)"
  if [ "$exe" != "$first" ] && [ "$nccl" -eq 0 ]; then
    echo "FAIL: $exe does not construct c10d::ProcessGroupNCCL (NCCL path not compiled)" >&2
    status=1
  fi
  echo "$(basename "$exe"): needs $(grep -c . <<<"$needed") libraries incl. libtorch_cuda.so," \
    "$cuda_calls CUDA-only symbols"
done
exit $status
