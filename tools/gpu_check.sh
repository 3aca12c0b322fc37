#!/usr/bin/env bash
# The prepared GPU check, for a lent GPU machine that has a CUDA torch in a Python venv but no
# network and none of Debian's -dev packages. Two halves:
#   bash tools/gpu_check.sh prepare   on a build machine (network): the Debian packages the
#                                     GPU-check build needs go to .gpu/debs, the reference
#                                     fixtures to .gpu/fixtures (.gpu/ is ignored; carry it)
#   bash tools/gpu_check.sh run       on the GPU machine: unpacks the packages into a prefix,
#                                     builds dfer-model and dfer-parity against that torch
#                                     (CMake DFER_GPU_CHECK: no OpenCV, no tests), then runs the
#                                     parity fixtures on CUDA in fp32 (1e-4), and bf16 training
#                                     steps and evaluation of the base LGI-Former with clips/s and
#                                     model-FLOP utilisation against the bf16 GEMM peak, and a
#                                     1-GPU NCCL world (all-reduce bandwidth, gradient buckets),
#                                     and the fused selective-scan kernel against the chunked
#                                     LibTorch scan (dfer-model scan-check: forward and input
#                                     gradients, fp32 1e-4, bf16 2e-2, times of both).
# The scan kernel (src/models/cuda/*.cu) is compiled there by nvcc, not carried prebuilt: PyPI
# torch's own CMake config enables the CUDA language and stops without nvcc, so any machine that
# can build against the venv's torch at all has one (the H200 image has nvcc 13.0, the driver's
# version). The script finds it on PATH, in $CUDA_HOME/bin or /usr/local/cuda/bin, and builds the
# kernel for sm_90 only (machine code + PTX), which is all that machine runs.
# Environment: DFER_GPU_PYTHON (default /opt/torch/.venv/bin/python3), DFER_GPU_CHECK_DEVICE
# (default cuda; cpu rehearses the whole run on a machine without a GPU), DFER_GPU_BATCH (32).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
gpu="$root/.gpu"
# yaml-cpp, spdlog + fmt (built libraries) and the header-only CLI11 and nlohmann-json.
debs=(libyaml-cpp-dev libyaml-cpp0.7 libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 libcli11-dev
  nlohmann-json3-dev libgloo-dev)
# videomamba_tiny_small runs the fused CUDA scan inside the model against the upstream fixture.
fixtures=(finetune_lgi_small finetune_vit_small pretrain_lgi_small videomamba_tiny_small)

step() { echo; echo "==> $* ($(($(date +%s) - start)) s)"; }
start=$(date +%s)

prepare() {
  step "downloading ${debs[*]} into .gpu/debs"
  rm -rf "$gpu/debs" "$gpu/fixtures"
  mkdir -p "$gpu/debs" "$gpu/fixtures"
  (cd "$gpu/debs" && apt-get download "${debs[@]}" &&
    for f in *%3a*; do [ -e "$f" ] && mv "$f" "${f//%3a/_}"; done)  # plain names travel safely
  local src="${DFER_REFERENCE_FIXTURES:-$root/../shared/fixtures/reference}"
  for f in "${fixtures[@]}"; do cp -r "$src/$f" "$gpu/fixtures/"; done
  du -sh "$gpu"
}

run() {
  local py="${DFER_GPU_PYTHON:-/opt/torch/.venv/bin/python3}" device="${DFER_GPU_CHECK_DEVICE:-cuda}"
  local batch="${DFER_GPU_BATCH:-32}" prefix=/tmp/dfer-gpu-deps build="$root/build-gpu"
  [ -d "$gpu/debs" ] || { echo "gpu_check: no .gpu/debs: run 'prepare' first" >&2; exit 1; }
  step "GPU"
  nvidia-smi -L || echo "(no nvidia-smi)"
  step "unpacking the Debian packages into $prefix"
  for f in "$gpu"/debs/*.deb; do dpkg -x "$f" "$prefix"; done
  local torch
  # Found without importing torch (a --no-deps install cannot import it; nothing is loaded).
  torch="$("$py" -c 'import importlib.util as u; print(u.find_spec("torch").submodule_search_locations[0])')"
  # cmake and ninja come with the venv there.
  export PATH="$(dirname "$py"):$PATH"
  local nvcc
  nvcc="$(command -v nvcc || true)"
  for dir in "${CUDA_HOME:-}" /usr/local/cuda; do
    if [ -z "$nvcc" ] && [ -n "$dir" ] && [ -x "$dir/bin/nvcc" ]; then nvcc="$dir/bin/nvcc"; fi
  done
  if [ -n "$nvcc" ]; then export CUDACXX="$nvcc"; fi
  step "configuring against $torch (nvcc: ${nvcc:-none found})"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDFER_GPU_CHECK=ON \
    -DDFER_REQUIRE_CUDA=ON -DDFER_CUDA_ARCHITECTURES=90 \
    -DCMAKE_PREFIX_PATH="$torch/share/cmake;$prefix/usr"
  step "building"
  cmake --build "$build" -j"$(nproc)"
  export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  local bin="$build/bin" status=0
  step "environment"
  "$bin/dfer-model" env
  step "parity fixtures on $device (fp32, atol/rtol 1e-4)"
  "$bin/dfer-parity" --device "$device" "${fixtures[@]/#/$gpu/fixtures/}" || status=1
  # Kernel against the chunked scan; on cpu it says the kernel needs a GPU and checks the rest.
  step "selective scan on $device: fused CUDA kernel vs chunked LibTorch scan"
  "$bin/dfer-model" scan-check --device "$device" || status=1
  step "base LGI-Former, 16x160x160, bf16 on $device: training steps and evaluation"
  "$bin/dfer-model" bench --train --eval --config "$root/configs/dfew_finetune.yaml" \
    --batch "$batch" --precision bf16 system.device "$device" || status=1
  # A launched world of one process: the store, the NCCL group (gloo on cpu), all-reduce
  # bandwidth on the device and training steps through the gradient buckets.
  step "1-process $([ "$device" = cpu ] && echo Gloo || echo NCCL) world on $device"
  RANK=0 LOCAL_RANK=0 WORLD_SIZE=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=29561 \
    "$bin/dfer-model" bench --dist --config "$root/configs/dfew_finetune.yaml" --batch 8 \
    --steps 3 --precision bf16 system.device "$device" || status=1
  step "done: $([ $status -eq 0 ] && echo PASS || echo FAIL)"
  return $status
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: tools/gpu_check.sh prepare|run" >&2; exit 2 ;;
esac
