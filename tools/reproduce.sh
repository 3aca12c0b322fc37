#!/usr/bin/env bash
# Reproduces a row of the paper's table: fine-tunes every fold of a dataset with the shipped
# recipe (configs/), then prints each fold's UAR / WAR from its final multi-view test and the mean,
# in the paper's format (percentages).
#   tools/reproduce.sh dfew|mafw|ferv39k [--nproc N] [--finetune CHECKPOINT] [--runs DIR]
#                      [--folds "1 2 3 4 5"] [KEY VALUE ...]
# --nproc N runs each fold data-parallel through tools/launch.sh (update_freq is divided by N so
# the total batch stays the reference's); --finetune is the pre-trained encoder (default: the
# recipe's training.finetune, the released VoxCeleb2 checkpoint). A fold whose final_results.json
# exists is not trained again (the runs resume on their own after an interruption).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
usage() { sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 1 ] || usage
dataset="$1"; shift
nproc=1 finetune="" runs="$ROOT/runs" folds="1 2 3 4 5"
while [ $# -gt 0 ]; do
  case "$1" in
    --nproc) nproc="$2"; shift 2 ;;
    --finetune) finetune="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --folds) folds="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) break ;;
  esac
done
case "$dataset" in
  dfew) config_of() { [ "$1" = 1 ] && echo dfew_finetune.yaml || echo "dfew_finetune_split0$1.yaml"; } ;;
  mafw) config_of() { echo "mafw_finetune_split0$1.yaml"; } ;;
  ferv39k) folds=1; config_of() { echo ferv39k_finetune.yaml; } ;;
  *) echo "reproduce.sh: unknown dataset '$dataset' (dfew, mafw, ferv39k)" >&2; exit 2 ;;
esac
results=()
for k in $folds; do
  cfg="$ROOT/configs/$(config_of "$k")"
  out="$runs/$dataset/split0$k"
  results+=("$out/final_results.json")
  [ -f "$out/final_results.json" ] && { echo "==> fold $k: done already ($out)"; continue; }
  uf="$(awk '/^  update_freq:/ {print $2}' "$cfg")"
  [ $((uf % nproc)) -eq 0 ] || { echo "reproduce.sh: update_freq $uf of $cfg does not split over $nproc processes" >&2; exit 2; }
  extra=(training.update_freq "$((uf / nproc))")
  [ -n "$finetune" ] && extra+=(training.finetune "$finetune")
  echo "==> fold $k: $cfg -> $out"
  "$ROOT/tools/launch.sh" --nproc "$nproc" dfer-finetune --config "$cfg" --output_dir "$out" \
    "${extra[@]}" "$@"
done
python3 - "$dataset" "${results[@]}" <<'PY'
import json, statistics, sys
name, files = sys.argv[1], sys.argv[2:]
rows = [json.load(open(f)) for f in files]
print(f"\n{name.upper()}: final multi-view test (UAR / WAR, %)")
print(f"{'fold':>6} {'UAR':>7} {'WAR':>7}")
for i, r in enumerate(rows, 1):
    print(f"{i:>6} {100 * r['final_uar']:7.2f} {100 * r['final_war']:7.2f}")
if len(rows) > 1:
    u = [100 * r['final_uar'] for r in rows]; w = [100 * r['final_war'] for r in rows]
    print(f"{'mean':>6} {statistics.mean(u):7.2f} {statistics.mean(w):7.2f}"
          f"   (std {statistics.stdev(u):.2f} / {statistics.stdev(w):.2f})")
# MAE-DFER, Table of the paper (5-fold means for DFEW and MAFW).
paper = {"dfew": (63.41, 74.43), "ferv39k": (43.12, 52.07), "mafw": (41.62, 54.31)}[name]
print(f"{'paper':>6} {paper[0]:7.2f} {paper[1]:7.2f}")
PY
