#!/usr/bin/env bash
# CTest driver for VideoMamba parity on sizes no shared fixture has: the independent Python oracle
# (videomamba_oracle.py, torch from the project's .venv) is first checked against the shared
# upstream fixture, then writes a fixture of other sizes into the build tree, which dfer-parity
# must pass. Missing torch or shared fixture: a skip (exit 77) on a developer machine, a failure
# under CI=true.
# Usage: run_videomamba_oracle.sh DFER_PARITY OUT_DIR
set -euo pipefail
parity="$1"; out="$2"
here="$(cd "$(dirname "$0")" && pwd)"
python="${DFER_VENV:-$here/../../.venv}/bin/python"
root="${DFER_REFERENCE_FIXTURES:-$here/../../../shared/fixtures/reference}"
skip() {
  if [ "${CI:-}" = "true" ]; then echo "$1 (required under CI=true)" >&2; exit 1; fi
  echo "skipping: $1"; exit 77
}
"$python" -c 'import torch, numpy' 2>/dev/null || skip "no torch/numpy in $python"
[ -d "$root/videomamba_tiny_small" ] || skip "reference fixture not found: $root/videomamba_tiny_small"
"$python" "$here/videomamba_oracle.py" check "$root/videomamba_tiny_small"
rm -rf "$out"
"$python" "$here/videomamba_oracle.py" make "$out"
exec "$parity" "$out"
