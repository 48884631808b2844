#!/usr/bin/env bash
# Lints and formats the protobuf contract under proto/ with the buf version pinned in tools/.
#
# Usage:
#   scripts/buf.sh lint     buf lint plus a formatting check; non-zero exit on any finding
#   scripts/buf.sh format   rewrite the .proto files in place with buf's formatting
#
# The pinned buf is installed into tools/node_modules with `npm ci` only when it is missing or
# when tools/package-lock.json changed since the last install; no network is needed otherwise.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${root}/tools"
buf="${tools}/node_modules/.bin/buf"
stamp="${tools}/node_modules/.integ-lock.sha256"

usage() {
  echo "usage: $0 lint|format" >&2
  exit 64
}

ensure_buf() {
  local want have=""
  want="$(sha256sum "${tools}/package-lock.json" | cut -d' ' -f1)"
  if [[ -f "${stamp}" ]]; then
    have="$(cat "${stamp}")"
  fi
  if [[ ! -x "${buf}" || "${want}" != "${have}" ]]; then
    echo "buf.sh: installing pinned tools with npm ci" >&2
    npm ci --prefix "${tools}" --no-audit --no-fund >&2
    echo "${want}" >"${stamp}"
  fi
}

main() {
  [[ $# -eq 1 ]] || usage
  ensure_buf
  cd "${root}"
  case "$1" in
    lint)
      "${buf}" lint
      "${buf}" format --diff --exit-code
      ;;
    format)
      "${buf}" format -w
      ;;
    *)
      usage
      ;;
  esac
}

main "$@"
