#!/usr/bin/env bash
# Build the real test control plane binaries from the Go module proxy, no Docker:
#   kube-apiserver, kubectl  <- k8s.io/kubernetes  (hack/testbin/kube)
#   etcd                     <- go.etcd.io/etcd/server/v3 (hack/testbin/etcd)
#   helm                     <- helm.sh/helm/v4 (hack/testbin/helm)
# Versions come from the wrapper modules' go.mod files (the one place to change them).
#
# Binaries are cached by version under ${XDG_CACHE_HOME:-~/.cache}/spotter-testbin/<name>-<version>/;
# a warm run only checks files. Progress goes to stderr; the KEY=path lines go to stdout and to
# <cache>/env (sourceable by sh, includable by make).
#
# Usage: hack/build-testbin.sh [--print-env] [--force]
#   --print-env  print only the env lines on stdout (still builds what is missing; progress on stderr)
#   --force      rebuild even if cached
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODS="$HERE/testbin"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/spotter-testbin"

PRINT_ENV=0
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --print-env) PRINT_ENV=1 ;;
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "build-testbin: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { echo "build-testbin: $*" >&2; }
die() { echo "build-testbin: ERROR: $*" >&2; exit 1; }

# The version a wrapper go.mod requires for a module: modver <go.mod> <module path>
modver() {
  local v
  v="$(awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) && $0 !~ /=>/ { print ($1 == "require" ? $3 : $2); exit }' "$1")"
  [ -n "$v" ] || die "cannot find the version of $2 in $1"
  echo "$v"
}

KUBE_VERSION="$(modver "$MODS/kube/go.mod" k8s.io/kubernetes)"      # v1.37.2
ETCD_VERSION="$(modver "$MODS/etcd/go.mod" go.etcd.io/etcd/server/v3)" # v3.6.16
HELM_VERSION="$(modver "$MODS/helm/go.mod" helm.sh/helm/v4)"          # v4.3.2

bin_path() { echo "$CACHE_ROOT/$1-$2/$1"; }
KUBE_APISERVER="$(bin_path kube-apiserver "$KUBE_VERSION")"
KUBECTL="$(bin_path kubectl "$KUBE_VERSION")"
ETCD="$(bin_path etcd "$ETCD_VERSION")"
HELM="$(bin_path helm "$HELM_VERSION")"

env_lines() {
  cat <<EOF
KUBE_APISERVER=$KUBE_APISERVER
ETCD=$ETCD
KUBECTL=$KUBECTL
HELM=$HELM
KUBE_VERSION=$KUBE_VERSION
ETCD_VERSION=$ETCD_VERSION
HELM_VERSION=$HELM_VERSION
EOF
}

all_cached() {
  [ "$FORCE" = 0 ] && [ -x "$KUBE_APISERVER" ] && [ -x "$KUBECTL" ] && [ -x "$ETCD" ] && [ -x "$HELM" ]
}

write_env() {
  mkdir -p "$CACHE_ROOT"
  env_lines > "$CACHE_ROOT/env.tmp.$$" && mv -f "$CACHE_ROOT/env.tmp.$$" "$CACHE_ROOT/env"
}

finish() {
  write_env
  env_lines
}

# Fast path: everything cached -> no Go, no lock.
if all_cached; then
  [ "$PRINT_ENV" = 1 ] || log "cache hit: kube-apiserver/kubectl $KUBE_VERSION, etcd $ETCD_VERSION, helm $HELM_VERSION in $CACHE_ROOT"
  finish
  exit 0
fi

# --- slow path: build what is missing -------------------------------------------------------
GO="$(command -v go || true)"
if [ -z "$GO" ] && [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go; fi
[ -n "$GO" ] || die "no Go toolchain found (need go >= 1.26 on PATH or at /usr/local/go/bin/go)"

export CGO_ENABLED=0
export GOTOOLCHAIN=local  # never download a toolchain; fail clearly if the local Go is too old
export GOFLAGS="-mod=readonly ${GOFLAGS:-}"

mkdir -p "$CACHE_ROOT"
# One builder at a time (parallel pytest sessions, a developer and CI on the same machine).
exec 9>"$CACHE_ROOT/.lock"
if ! flock -n 9; then
  log "another build holds $CACHE_ROOT/.lock; waiting"
  flock 9
fi
if all_cached; then  # someone else finished it while we waited
  log "cache hit after waiting for the lock"
  finish
  exit 0
fi

log "using $("$GO" version) ; cache $CACHE_ROOT"
BUILD_START=$SECONDS
SUMMARY=()

fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# build <name> <version> <module dir> <package> <ldflags...>
build() {
  local name="$1" version="$2" moddir="$3" pkg="$4" ldflags="$5"
  local out dir logf start pid n d elapsed rc
  out="$(bin_path "$name" "$version")"
  if [ "$FORCE" = 0 ] && [ -x "$out" ]; then
    log "$name $version: cache hit ($out)"
    return 0
  fi
  dir="$(dirname "$out")"
  mkdir -p "$dir"
  logf="$dir/build.log"
  start=$SECONDS
  log "$name $version: building $pkg (cold builds take minutes on 2 cores; log $logf)"
  # -v prints each package as it is compiled: counted below for progress.
  ( cd "$moddir" && exec "$GO" build -p 2 -v -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg" ) >"$logf" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then
      n="$(grep -c '^[a-zA-Z0-9][^ :]*$' "$logf" 2>/dev/null || true)"
      d="$(grep -c '^go: downloading' "$logf" 2>/dev/null || true)"
      log "  $name: $(fmt_secs $((SECONDS - start))) elapsed, ${n:-0} packages compiled so far" \
          "$([ "${d:-0}" != 0 ] && echo "(${d} modules downloaded)")"
    fi
  done
  rc=0
  wait "$pid" || rc=$?
  elapsed=$((SECONDS - start))
  if [ "$rc" != 0 ]; then
    echo "build-testbin: ERROR: building $name from module $pkg@$version (wrapper $moddir) failed (exit $rc)." >&2
    echo "build-testbin: go build errors (last 40 lines of $logf):" >&2
    grep -v '^[a-zA-Z0-9][^ :]*$' "$logf" | tail -n 40 >&2 || tail -n 40 "$logf" >&2
    rm -f "$out.tmp"
    exit 1
  fi
  mv -f "$out.tmp" "$out"
  local size
  size="$(du -h "$out" | cut -f1)"
  log "$name $version: built in $(fmt_secs "$elapsed") (${elapsed}s), $size -> $out"
  SUMMARY+=("$name $version: ${elapsed}s, $size")
}

BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
KUBE_MAJOR="${KUBE_VERSION#v}"; KUBE_MAJOR="${KUBE_MAJOR%%.*}"
KUBE_MINOR="${KUBE_VERSION#v*.}"; KUBE_MINOR="${KUBE_MINOR%%.*}"
kube_ldflags() {  # the same keys as kubernetes' hack/lib/version.sh, for one version package
  local p="$1"
  echo "-X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=$KUBE_MAJOR -X $p.gitMinor=$KUBE_MINOR" \
       "-X $p.gitTreeState=clean -X $p.buildDate=$BUILD_DATE"
}
KUBE_LDFLAGS="$(kube_ldflags k8s.io/component-base/version) $(kube_ldflags k8s.io/client-go/pkg/version)"

build etcd "$ETCD_VERSION" "$MODS/etcd" . ""
build kube-apiserver "$KUBE_VERSION" "$MODS/kube" k8s.io/kubernetes/cmd/kube-apiserver "$KUBE_LDFLAGS"
build kubectl "$KUBE_VERSION" "$MODS/kube" k8s.io/kubernetes/cmd/kubectl "$KUBE_LDFLAGS"
build helm "$HELM_VERSION" "$MODS/helm" helm.sh/helm/v4/cmd/helm \
  "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION -X helm.sh/helm/v4/internal/version.gitTreeState=clean"

if [ "${#SUMMARY[@]}" -gt 0 ]; then
  log "built ${#SUMMARY[@]} binaries in $(fmt_secs $((SECONDS - BUILD_START))) total:"
  for s in "${SUMMARY[@]}"; do log "  $s"; done
fi
finish
