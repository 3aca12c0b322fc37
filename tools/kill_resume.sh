#!/usr/bin/env bash
# The long kill-at-any-moment check: 20 SIGKILLs at random moments (DFER_KILLS to change) for a
# tiny fine-tuning and a tiny pre-training run, each resumed with the same command and compared
# bit for bit with an uninterrupted run (tests/e2e/test_e2e_kill.cpp, which CTest runs with 5).
# Prints how many kills landed inside a checkpoint write. Needs a build (tools/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${DFER_BUILD:-build}/tests/test_e2e_kill"
[ -x "$bin" ] || { echo "kill_resume.sh: $bin not built" >&2; exit 2; }
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
DFER_KILLS="${DFER_KILLS:-20}" OMP_NUM_THREADS=1 "$bin" "*killed at random moments*" >"$log" 2>&1 ||
  status=$?
grep -E -A1 "kills, " "$log" | grep -v -- "--" | sed 's/^ */  /' | paste -d' ' - - || true
tail -3 "$log"
[ "$status" -eq 0 ] || { cat "$log"; exit "$status"; }
