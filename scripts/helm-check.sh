#!/usr/bin/env bash
# Offline checks of the Helm chart in helm/integ: lint, render, schema-validate against several
# Kubernetes versions, and assert probes, ports, shutdown timing, security and secret wiring.
# No cluster, no helm CLI and no network beyond PyPI (first run only) are needed.
#
# Prints one line per check and ends with "N passed, M failed"; exits non-zero on any failure.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if ! venv=$("$repo_root/scripts/python-env.sh" | tail -n 1) || [[ ! -x "$venv/bin/python" ]]; then
  echo "helm-check: could not prepare the Python tools (scripts/python-env.sh)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

exec "$venv/bin/python" "$repo_root/helm/tests/check_chart.py"
