#!/usr/bin/env bash
# Contract check of the payment providers against the providers' published OpenAPI descriptions.
#
# What it checks: every operation of each provider, built and sent by the provider's own code,
# is accepted by a Prism mock of the provider's spec: no 4xx/5xx answer and no `sl-violations`
# header, and the provider can read Prism's answer. The driver is
# crates/payments/examples/contract/, which lists each operation as ok or FAIL and documents,
# per provider, what it adapts and what the spec does not cover.
#
# What it does not check: behaviour (Prism answers the spec's examples, not the provider's state
# machine) or unknown parameters (Prism ignores them). The black-box tests against the fake
# providers cover behaviour.
#
# Usage:
#   scripts/contract-check.sh [provider...]   default: every provider below; needs
#                                             ../shared/specs (or INTEG_SPECS_DIR), Node and npm
#
# Exits 0 when everything conforms, 1 on any violation, 66 when the specs are missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
specs="${INTEG_SPECS_DIR:-${root}/../shared/specs}"
cargo="${CARGO:-cargo}"

# provider, then the spec files its driver takes (one Prism each, in this order).
declare -A spec_files=(
  [stripe]="stripe-spec3.payments-subset.json"
  [square]="square-api.local.json"
  [paypal]="paypal-checkout_orders_v2.local.json paypal-payments_payment_v2.local.json"
)
order=(stripe square paypal)

wanted=("$@")
if [[ ${#wanted[@]} -eq 0 ]]; then
  wanted=("${order[@]}")
fi
for provider in "${wanted[@]}"; do
  if [[ -z "${spec_files[${provider}]:-}" ]]; then
    echo "contract-check: no contract check for ${provider}" >&2
    exit 64
  fi
  for file in ${spec_files[${provider}]}; do
    spec="${specs}/${file}"
    if [[ ! -f "${spec}" ]]; then
      echo "contract-check: ${spec} not found; set INTEG_SPECS_DIR to the specs directory" >&2
      exit 66
    fi
    # Prism would try to download remote references.
    if grep -q '"\$ref": *"http' "${spec}"; then
      echo "contract-check: ${spec} has remote \$refs; refusing to start Prism on it" >&2
      exit 1
    fi
  done
done

bash "${root}/scripts/node-tools.sh"
prism="${root}/tools/node_modules/.bin/prism"

pids=()
logs=()
cleanup() {
  for pid in "${pids[@]}"; do
    if kill -0 "${pid}" 2>/dev/null; then
      kill "${pid}" 2>/dev/null || true
      wait "${pid}" 2>/dev/null || true
    fi
  done
  rm -f "${logs[@]}"
}
trap cleanup EXIT

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => {
    console.log(s.address().port); s.close(); });'
}

# Starts every Prism at once (each takes 15 to 30 s to load its spec); the URLs per provider.
declare -A urls=()
declare -A port_log=()
for provider in "${wanted[@]}"; do
  for file in ${spec_files[${provider}]}; do
    port="$(free_port)"
    log="$(mktemp "${TMPDIR:-/tmp}/integ-prism.XXXXXX")"
    "${prism}" mock -h 127.0.0.1 -p "${port}" "${specs}/${file}" >"${log}" 2>&1 &
    pids+=("$!")
    logs+=("${log}")
    port_log["${port}"]="${log}:$!"
    urls["${provider}"]="${urls[${provider}]:-} http://127.0.0.1:${port}"
  done
done

cd "${root}"
"${cargo}" build -q -p integ-payments --example contract

wait_for() {
  local port="$1" log="${port_log[$1]%%:*}" pid="${port_log[$1]##*:}"
  for _ in $(seq 1 180); do
    if ! kill -0 "${pid}" 2>/dev/null; then
      echo "contract-check: Prism on port ${port} exited while starting; its output:" >&2
      cat "${log}" >&2
      return 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  echo "contract-check: Prism did not listen on port ${port} within 90 s; its output:" >&2
  cat "${log}" >&2
  return 1
}

status=0
for provider in "${wanted[@]}"; do
  for url in ${urls[${provider}]}; do
    wait_for "${url##*:}"
  done
  # shellcheck disable=SC2086 # one argument per URL
  "${cargo}" run -q -p integ-payments --example contract -- "${provider}" ${urls[${provider}]} \
    || status=1
done
exit "${status}"
