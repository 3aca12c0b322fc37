#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, and runs the main job on the
# embedded default. Until the training engines land this shows the demo model and the machine.
source "$(dirname "$0")/common.sh"
install_deps
build_all
out="${DFER_DEMO_OUT:-$DFER_ROOT/out/demo}"
mkdir -p "$out"
step "environment"
"$DFER_BUILD/bin/dfer-model" env || fail "dfer-model env"
step "demo model (configs/synth_finetune.yaml)"
"$DFER_BUILD/bin/dfer-model" summary --config "$DFER_ROOT/configs/synth_finetune.yaml" \
  || fail "dfer-model summary"
step "released LGI-Former architecture (configs/dfew_finetune.yaml)"
"$DFER_BUILD/bin/dfer-model" summary --config "$DFER_ROOT/configs/dfew_finetune.yaml" \
  || fail "dfer-model summary"
