#!/usr/bin/env bash
# CTest driver for the dfer-parity program on the shared reference fixtures. Absent fixtures are
# a skip (exit 77) on a developer machine and a failure under CI=true.
# Usage: run_parity.sh DFER_PARITY [--flag ...] FIXTURE_NAME...
set -euo pipefail
parity="$1"; shift
root="${DFER_REFERENCE_FIXTURES:-$(dirname "$0")/../../../shared/fixtures/reference}"
flags=()
while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do flags+=("$1"); shift; done  # leading --flags
dirs=()
for name in "$@"; do
  if [ -d "$root/$name" ]; then dirs+=("$root/$name"); continue; fi
  if [ "${CI:-}" = "true" ]; then echo "reference fixture missing under CI=true: $root/$name" >&2; exit 1; fi
  echo "skipping: reference fixture not found: $root/$name"; exit 77
done
exec "$parity" "${flags[@]}" "${dirs[@]}"
