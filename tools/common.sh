# Shared steps of the two README entry points (sourced, not run): install the Debian packages that
# are missing and the pinned LibTorch (PyPI's torch wheel) into the project's .venv, then configure
# and build. Every step announces itself and fails loudly.
set -euo pipefail
DFER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DFER_BUILD="${DFER_BUILD:-$DFER_ROOT/build}"
DFER_VENV="${DFER_VENV:-$DFER_ROOT/.venv}"
source "$DFER_ROOT/tools/torch_pin.sh"

# LibTorch itself comes from PyPI (tools/torch_pin.sh); python3-venv gives Debian's python3 its venv;
# libtcmalloc-minimal4 is the programs' malloc (CMakeLists.txt); opencv-data holds the Haar face
# cascade of `dfer-prep extract --face-crop`; libxxhash-dev the checkpoint content hash; chromium
# (headless) renders dfer-report's page in its test (tests/unit/test_train_report.cpp), which fails
# on any console message.
DFER_PACKAGES=(build-essential cmake ninja-build ccache pkg-config python3 python3-venv
  libopencv-dev libjpeg-dev libtcmalloc-minimal4 libgloo-dev libxxhash-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev catch2 nlohmann-json3-dev
  clang libfuzzer-14-dev libclang-rt-14-dev opencv-data chromium)

# Test-only Python tools from PyPI, into the same .venv: Pillow makes the reference's resize for
# the resize parity test (tests/unit/test_data_pil_resize.cpp); TensorBoard's event-file reader
# reads back what system.log_dir wrote (tests/unit/test_train_tensorboard.cpp). The reader imports
# only numpy, protobuf and absl-py of TensorBoard's dependencies (no grpcio, werkzeug, data server).
DFER_TEST_WHEELS=("pillow==13.0.0" "tensorboard==2.21.0" "numpy==2.4.6" "protobuf==7.36.2"
  "absl-py==2.5.1")

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

# The torch package folder of the venv, found without importing torch (which would load CUDA).
torch_dir() {
  "$DFER_VENV/bin/python" -c 'import importlib.util as u; print(u.find_spec("torch").submodule_search_locations[0])'
}

install_torch() {
  step "checking LibTorch (PyPI torch $DFER_TORCH_VERSION in $DFER_VENV)"
  if [ "${DFER_TORCH_FULL:-0}" != 1 ] && [ -x "$DFER_VENV/bin/python" ] &&
    [ "$("$DFER_VENV/bin/pip" list --format=freeze 2>/dev/null | grep -c -x -i -F -f <(printf '%s\n' "${DFER_TORCH_WHEELS[@]}" "${DFER_TORCHRUN_WHEELS[@]}" "${DFER_TEST_WHEELS[@]}"))" \
      -eq $((${#DFER_TORCH_WHEELS[@]} + ${#DFER_TORCHRUN_WHEELS[@]} + ${#DFER_TEST_WHEELS[@]})) ]; then
    echo "torch $DFER_TORCH_VERSION present"; return
  fi
  [ -x "$DFER_VENV/bin/python" ] || python3 -m venv "$DFER_VENV" || fail "python3 -m venv $DFER_VENV"
  if [ "${DFER_TORCH_FULL:-0}" = 1 ]; then
    # GPU machines: every CUDA library in the versions torch was built with (~3 GB).
    "$DFER_VENV/bin/pip" install --disable-pip-version-check "${DFER_TORCH_WHEELS[@]}" \
      || fail "pip install ${DFER_TORCH_WHEELS[*]}"
    return
  fi
  "$DFER_VENV/bin/pip" install --disable-pip-version-check --no-deps "${DFER_TORCH_WHEELS[@]}" \
    "${DFER_TORCHRUN_WHEELS[@]}" "${DFER_TEST_WHEELS[@]}" || fail "pip install --no-deps ${DFER_TORCH_WHEELS[*]}"
}

build_all() {
  local torch
  torch="$(torch_dir)" || fail "torch not found in $DFER_VENV (run install_torch)"
  step "configuring ($DFER_BUILD) against $torch"
  cmake -S "$DFER_ROOT" -B "$DFER_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$torch/share/cmake" -DDFER_REQUIRE_CUDA=ON \
    || fail "cmake configure"
  step "building"
  cmake --build "$DFER_BUILD" -j"$(nproc)" || fail "build"
}
