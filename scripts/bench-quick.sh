#!/usr/bin/env bash
# Runs the benchmark suite briefly so its code cannot rot; asserts no thresholds.
# The bench drives the real adapter binaries, found beside its own executable: build them first
# (a no-op inside `make test`, whose `build` step has built every binary already).
set -euo pipefail
CARGO="${CARGO:-cargo}"
if [ -d crates/bench ]; then
  "$CARGO" build -p integ-payments -p integ-bench --bins
  "$CARGO" run -p integ-bench -- --quick --out "${CARGO_TARGET_DIR:-target}/bench-quick"
else
  echo "bench-quick: no benchmark crate yet"
fi
