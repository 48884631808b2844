#!/usr/bin/env bash
# Starts all four adapters on loopback with the sandbox providers and an embedded SQLite store
# under ./data, prints their addresses, and stops them all on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-target}/debug"
export INTEG_DATA_DIR="${INTEG_DATA_DIR:-$PWD/data}"
export INTEG_LOG_FORMAT="${INTEG_LOG_FORMAT:-text}"
mkdir -p "$INTEG_DATA_DIR"
pids=()
stop() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
}
trap stop INT TERM EXIT
for family in payments messaging identity storage; do
  "$bin/integ-$family" &
  pids+=("$!")
done
sleep 1
cat <<MSG

integ is running on loopback with the sandbox providers (data in $INTEG_DATA_DIR):
  payments   gRPC 127.0.0.1:50051   webhooks http://127.0.0.1:8081   metrics http://127.0.0.1:9091/metrics
  messaging  gRPC 127.0.0.1:50052   webhooks http://127.0.0.1:8082   metrics http://127.0.0.1:9092/metrics
  identity   gRPC 127.0.0.1:50053   webhooks http://127.0.0.1:8083   metrics http://127.0.0.1:9093/metrics
  storage    gRPC 127.0.0.1:50054   webhooks http://127.0.0.1:8084   metrics http://127.0.0.1:9094/metrics
Try: grpcurl -plaintext 127.0.0.1:50051 list      (Ctrl-C stops everything)

MSG
wait -n "${pids[@]}" || true
