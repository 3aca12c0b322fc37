#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs the whole test suite
# (unit, parity against the reference fixtures, end-to-end, fuzz smoke). Idempotent.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/test_media.sh"
install_deps
install_torch
build_all
fetch_test_media
step "running the tests"
cd "$DFER_BUILD"
ctest --output-on-failure -j"$(nproc)" --timeout 1500 || fail "tests"
