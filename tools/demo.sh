#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, prints the environment, then runs
# the demo on the embedded synthetic dataset (tools/run_demo.sh): render it, MAE-DFER pre-train,
# fine-tune from the pre-trained encoder and from scratch, and print both test UAR/WAR.
source "$(dirname "$0")/common.sh"
install_deps
install_torch
build_all
out="${DFER_DEMO_OUT:-$DFER_ROOT/out/demo}"
step "environment"
"$DFER_BUILD/bin/dfer-model" env || fail "dfer-model env"
step "demo: synthetic data -> pre-train -> fine-tune -> test (outputs in $out)"
bash "$DFER_ROOT/tools/run_demo.sh" "$DFER_BUILD" "$out" || fail "demo run"
