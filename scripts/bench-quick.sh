#!/usr/bin/env bash
# Runs the benchmark suite briefly so its code cannot rot; asserts no thresholds.
set -euo pipefail
if [ -d crates/bench ]; then
  cargo run -p integ-bench -- --quick --out "${CARGO_TARGET_DIR:-target}/bench-quick"
else
  echo "bench-quick: no benchmark crate yet"
fi
