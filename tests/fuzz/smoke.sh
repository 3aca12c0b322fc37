#!/usr/bin/env bash
# Short libFuzzer runs (ASan+UBSan) over every parser: builds the clang fuzz configuration in
# build-fuzz/ and runs each target for DFER_FUZZ_SECONDS (default 5) on a scratch copy of its seed
# corpus. Exit 77 (CTest "skipped") when clang is absent outside CI; any crash fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${DFER_FUZZ_SECONDS:-5}
if ! command -v clang++ >/dev/null; then
  if [ "${CI:-}" = "true" ]; then echo "clang++ missing under CI" >&2; exit 1; fi
  echo "clang++ not installed: fuzz smoke skipped"; exit 77
fi
build=build-fuzz
mkdir -p "$build"
# fuzz_pth links the LibTorch of the project's venv (tools/common.sh installs it); without one
# the other targets still run.
venv=${DFER_VENV:-.venv}
torch=$("$venv/bin/python" -c 'import importlib.util as u; print(u.find_spec("torch").submodule_search_locations[0])' 2>/dev/null) || torch=""
cmake -S . -B "$build" -G Ninja -DDFER_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ ${torch:+-DCMAKE_PREFIX_PATH="$torch/share/cmake"} \
  >"$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j"$(nproc)"
for name in safetensors csv config pickle pth; do
  if [ ! -x "$build/tests/fuzz/fuzz_$name" ]; then
    if [ "${CI:-}" = "true" ]; then echo "fuzz_$name not built under CI" >&2; exit 1; fi
    echo "== fuzz_$name not built (no LibTorch in $venv): skipped"; continue
  fi
  work=$(mktemp -d)
  cp -r "tests/fuzz/corpus/$name/." "$work/" 2>/dev/null || true
  dict=()
  if [ -f "tests/fuzz/$name.dict" ]; then dict=(-dict="tests/fuzz/$name.dict"); fi
  echo "== fuzz_$name for ${secs}s"
  "$build/tests/fuzz/fuzz_$name" "${dict[@]}" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$work/" "$work" 2>"$work/log" || { tail -50 "$work/log"; echo "fuzz_$name FAILED (artifacts in $work)"; exit 1; }
  grep "^Done " "$work/log" || tail -1 "$work/log"  # fuzz_pth ends with its leak exemption report
  rm -rf "$work"
done
echo "fuzz smoke: all targets ran ${secs}s without a finding"
