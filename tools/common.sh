# Shared steps of the two README entry points (sourced, not run): install the Debian packages that
# are missing, then configure and build. Every step announces itself and fails loudly.
set -euo pipefail
DFER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DFER_BUILD="${DFER_BUILD:-$DFER_ROOT/build}"

# libblis4-openmp: without it Debian's LibTorch runs on the netlib reference BLAS (~20x slower).
# OpenBLAS is deliberately absent: it would take over the BLAS alternative and is slower here.
# libdnnl-dev: oneDNN's fp32 GEMM (AVX-512) replaces the BLAS's for LibTorch's fp32 matmuls.
DFER_PACKAGES=(build-essential cmake ninja-build ccache pkg-config libtorch-dev libopencv-dev
  libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev catch2 nlohmann-json3-dev libgloo-dev
  libblis4-openmp libdnnl-dev clang libfuzzer-14-dev libclang-rt-14-dev)

step() { echo; echo "==> $*"; }
fail() { echo "dfer: step failed: $*" >&2; exit 1; }

install_deps() {
  step "checking Debian packages"
  local missing=()
  for p in "${DFER_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then echo "all ${#DFER_PACKAGES[@]} packages present"; return; fi
  echo "installing: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update || fail "apt-get update"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}" \
    || fail "apt-get install ${missing[*]}"
}

build_all() {
  step "configuring ($DFER_BUILD)"
  cmake -S "$DFER_ROOT" -B "$DFER_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release || fail "cmake configure"
  step "building"
  cmake --build "$DFER_BUILD" -j"$(nproc)" || fail "build"
}
