#!/usr/bin/env bash
# Data-parallel benchmark on this machine, both figures from one run: the same fine-tune training
# step with 1 process and with 2 processes (each process 1 thread, batch per process fixed, Gloo on
# loopback unless system.device says cuda), launched through tools/launch.sh. Prints the all-reduce
# bandwidth, each world's step time, the step-time overhead of 2 processes against 1, and the share
# of the gradient communication hidden behind backward.
#   tools/bench_dist.sh [--config FILE] [--batch B] [--steps N] [KEY VALUE ...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
config="$ROOT/configs/dfew_finetune.yaml" batch=2 steps=5
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    *) break ;;
  esac
done
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1
for n in 1 2; do
  echo "==> $n process(es)"
  "$ROOT/tools/launch.sh" --nproc "$n" dfer-model --threads 1 bench --dist --config "$config" \
    --batch "$batch" --steps "$steps" --json "$tmp/w$n.json" system.device cpu "$@" 2>&1 |
    grep -v -e "Failed to initialize NumPy" -e "_conversion_method_template"
done
python3 - "$tmp/w1.json" "$tmp/w2.json" <<'PY'
import json, sys
one, two = (json.load(open(p)) for p in sys.argv[1:3])
print("==> comparison (same machine, same run)")
print(f"step time: 1 process {one['step_s']:.4f} s, 2 processes {two['step_s']:.4f} s "
      f"-> overhead {100 * (two['step_s'] / one['step_s'] - 1):+.1f}% per step")
print(f"throughput: {one['clips_per_s']:.2f} -> {two['clips_per_s']:.2f} clips/s "
      f"(x{two['clips_per_s'] / one['clips_per_s']:.2f})")
print(f"gradient all-reduce: {two['comm_alone_s']:.4f} s alone, {two['exposed_comm_s']:.4f} s "
      f"exposed -> {100 * two['hidden_fraction']:.0f}% hidden behind backward")
PY
