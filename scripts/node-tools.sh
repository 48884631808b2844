#!/usr/bin/env bash
# Installs the pinned Node tools in tools/ (buf, and the official webhook SDKs that tests sign
# requests with) when they are missing or tools/package-lock.json changed since the last install.
#
# Usage:
#   scripts/node-tools.sh
#
# Shares its stamp with scripts/buf.sh (tools/node_modules/.integ-lock.sha256, the sha256 of the
# lock file), so an install by either one satisfies both. Concurrent callers (parallel tests)
# wait for each other instead of running two `npm ci` over the same directory.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${root}/tools"
lock="${tools}/package-lock.json"
stamp="${tools}/node_modules/.integ-lock.sha256"

if [[ $# -ne 0 ]]; then
  echo "usage: $0" >&2
  exit 64
fi

for tool in node npm; do
  if ! command -v "${tool}" >/dev/null; then
    echo "node-tools.sh: ${tool} is not installed; install Node.js 20 or later" >&2
    exit 69
  fi
done

# Hold a lock on the lock file itself while checking and installing.
exec 9<"${lock}"
flock 9

want="$(sha256sum "${lock}" | cut -d' ' -f1)"
have=""
if [[ -f "${stamp}" ]]; then
  have="$(cat "${stamp}")"
fi
if [[ "${want}" != "${have}" ]]; then
  echo "node-tools.sh: installing pinned tools with npm ci" >&2
  npm ci --prefix "${tools}" --no-audit --no-fund >&2
  echo "${want}" >"${stamp}"
fi
