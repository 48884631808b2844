#!/usr/bin/env bash
# Contract check of the Stripe provider against Stripe's published OpenAPI description.
#
# What it checks: every operation of the payments adapter's Stripe provider (PaymentIntents
# create/get/capture/cancel, Refunds, Customers, Subscriptions incl. both cancellations,
# Payouts), built and sent by the provider's own code, is accepted by a Prism mock of
# stripe-spec3.payments-subset.json (API version 2023-08-16): no 4xx/5xx answer and no
# `sl-violations` header, and the provider can read Prism's answer. The driver is
# crates/payments/examples/stripe_contract.rs, which lists each operation as ok or FAIL and
# documents its one adaptation (Prism's reading of arrays of objects in form bodies).
#
# What it does not check: behaviour (Prism answers the spec's examples, not Stripe's state
# machine) or unknown parameters (Prism ignores them). The black-box tests against the fake
# Stripe cover behaviour.
#
# Usage:
#   scripts/contract-check.sh        needs ../shared/specs (or INTEG_SPECS_DIR), Node and npm
#
# Exits 0 when everything conforms, 1 on any violation, 66 when the specs are missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
specs="${INTEG_SPECS_DIR:-${root}/../shared/specs}"
spec="${specs}/stripe-spec3.payments-subset.json"
cargo="${CARGO:-cargo}"

if [[ ! -f "${spec}" ]]; then
  echo "contract-check: ${spec} not found; set INTEG_SPECS_DIR to the specs directory" >&2
  exit 66
fi
# Prism would try to download remote references.
if grep -q '"\$ref": *"http' "${spec}"; then
  echo "contract-check: ${spec} has remote \$refs; refusing to start Prism on it" >&2
  exit 1
fi

bash "${root}/scripts/node-tools.sh"
prism="${root}/tools/node_modules/.bin/prism"

port="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => {
  console.log(s.address().port); s.close(); });')"
log="$(mktemp "${TMPDIR:-/tmp}/integ-prism.XXXXXX")"
prism_pid=""
cleanup() {
  if [[ -n "${prism_pid}" ]] && kill -0 "${prism_pid}" 2>/dev/null; then
    kill "${prism_pid}" 2>/dev/null || true
    wait "${prism_pid}" 2>/dev/null || true
  fi
  rm -f "${log}"
}
trap cleanup EXIT

# Prism takes about 16 s to load the spec; build the driver meanwhile.
"${prism}" mock -h 127.0.0.1 -p "${port}" "${spec}" >"${log}" 2>&1 &
prism_pid=$!
cd "${root}"
"${cargo}" build -q -p integ-payments --example stripe_contract

for _ in $(seq 1 120); do
  if ! kill -0 "${prism_pid}" 2>/dev/null; then
    echo "contract-check: Prism exited while starting; its output:" >&2
    cat "${log}" >&2
    exit 1
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
    break
  fi
  sleep 0.5
done
if ! (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
  echo "contract-check: Prism did not listen on port ${port} within 60 s; its output:" >&2
  cat "${log}" >&2
  exit 1
fi

"${cargo}" run -q -p integ-payments --example stripe_contract -- "http://127.0.0.1:${port}"
