#!/usr/bin/env bash
# The demo run on the embedded synthetic dataset: render it (dfer-prep synth), MAE-DFER pre-train
# (configs/synth_pretrain.yaml), fine-tune from the pre-trained encoder and from scratch
# (configs/synth_finetune.yaml), then print the multi-view test UAR/WAR of both runs.
# With --mamba it then does the same with a VideoMamba encoder (configs/synth_mamba_*.yaml).
# Usage: tools/run_demo.sh [--mamba] [BUILD_DIR] [OUT_DIR]   (defaults: build, out/demo).
# Re-running resumes or reuses finished runs (auto_resume); delete OUT_DIR to start over.
set -euo pipefail
mamba=0
if [ "${1:-}" = "--mamba" ]; then mamba=1; shift; fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-${DFER_BUILD:-$root/build}}"
out="${2:-${DFER_DEMO_OUT:-$root/out/demo}}"
bin="$build/bin"
for exe in dfer-prep dfer-pretrain dfer-finetune; do
  [ -x "$bin/$exe" ] || { echo "run_demo: $bin/$exe not built" >&2; exit 1; }
done
mkdir -p "$out"
data="$out/synth"
start=$(date +%s)

banner() { echo; echo "==> $*"; }

if [ ! -f "$data/test.csv" ]; then
  banner "rendering the synthetic dataset into $data"
  # 3000 clips at 64 px, framed like aligned face crops, with clear expressions (see README).
  "$bin/dfer-prep" synth --out "$data" --videos 3000 --size 64 --face-zoom 1.6 \
    --feature-scale 2.0 --min-intensity 0.9
fi

banner "MAE-DFER pre-training (configs/synth_pretrain.yaml) -> $out/pretrain"
"$bin/dfer-pretrain" --config "$root/configs/synth_pretrain.yaml" --output_dir "$out/pretrain" \
  data.data_path "$data/pretrain.csv"
tag="$(cat "$out/pretrain/checkpoint-last")"
weights="$out/pretrain/checkpoint-$tag.safetensors"

banner "fine-tuning from the pre-trained encoder ($weights) -> $out/finetune_pretrained"
"$bin/dfer-finetune" --config "$root/configs/synth_finetune.yaml" \
  --output_dir "$out/finetune_pretrained" data.data_path "$data" training.finetune "$weights"

banner "fine-tuning from scratch -> $out/finetune_scratch"
"$bin/dfer-finetune" --config "$root/configs/synth_finetune.yaml" \
  --output_dir "$out/finetune_scratch" data.data_path "$data"

runs="finetune_pretrained finetune_scratch"
if [ "$mamba" = 1 ]; then
  banner "VideoMamba pre-training (configs/synth_mamba_pretrain.yaml) -> $out/mamba_pretrain"
  "$bin/dfer-pretrain" --config "$root/configs/synth_mamba_pretrain.yaml" \
    --output_dir "$out/mamba_pretrain" data.data_path "$data/pretrain.csv"
  tag="$(cat "$out/mamba_pretrain/checkpoint-last")"
  mweights="$out/mamba_pretrain/checkpoint-$tag.safetensors"
  banner "VideoMamba fine-tuning from its pre-trained encoder -> $out/mamba_finetune_pretrained"
  "$bin/dfer-finetune" --config "$root/configs/synth_mamba_finetune.yaml" \
    --output_dir "$out/mamba_finetune_pretrained" data.data_path "$data" \
    training.finetune "$mweights"
  runs="$runs mamba_finetune_pretrained"
fi

# final_results.json is indented JSON with one key per line.
value() { sed -n "s/^ *\"$2\": *\([0-9.eE+-]*\).*/\1/p" "$1" | head -n1; }
banner "results on the synthetic test split (multi-view, last-epoch model)"
printf '%-24s %8s %8s\n' run UAR WAR
for run in $runs; do
  f="$out/$run/final_results.json"
  printf '%-24s %8.4f %8.4f\n' "$run" "$(value "$f" final_uar)" "$(value "$f" final_war)"
done
echo
echo "outputs: $out/{pretrain,finetune_pretrained,finetune_scratch}"
echo "  checkpoints (checkpoint-N.safetensors), metrics.jsonl, log.txt (the reference's JSON lines),"
echo "  train.log (human log), final_results.json,"
echo "  test_predictions.csv, config.yaml; total time $(( $(date +%s) - start )) s"
