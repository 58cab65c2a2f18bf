#!/usr/bin/env bash
# Installs what `make bench` needs beyond the project's Python packages: wrk (Debian package),
# redis-server with redis-benchmark, and py-spy into the given Python (for `make bench-profile`).
# Usage: hack/install-bench-deps.sh [python]
set -euo pipefail
PYTHON="${1:-python3}"

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-benchmark >/dev/null 2>&1 || missing+=(redis-tools)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} with apt-get..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing ${missing[*]}: install them (Debian: apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

if ! [ -x "$(dirname "$PYTHON")/py-spy" ] && ! command -v py-spy >/dev/null 2>&1; then
  "$PYTHON" -m pip install -q py-spy
fi
