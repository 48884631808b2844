#!/usr/bin/env bash
# Runs the benchmark suite briefly so its code cannot rot; asserts no thresholds.
# The bench drives the real adapter binaries, found beside its own executable. Both come from
# the workspace build of `make test` (`build-all`); building them here with other package
# selections would compile their dependencies again with other features.
set -euo pipefail
CARGO="${CARGO:-cargo}"
target="${CARGO_TARGET_DIR:-target}"
"$CARGO" build --workspace --all-targets
"${target}/debug/integ-bench" --quick --out "${target}/bench-quick"
