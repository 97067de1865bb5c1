#!/usr/bin/env bash
# Builds, once, the binaries of the e2e control plane and caches them outside the repo:
#
#   ${RUNNEL_CACHE:-$HOME/.cache/runnel}/k8s-<K8S_VERSION>/bin/
#     kube-apiserver kube-controller-manager kube-scheduler kubectl   (k8s.io/kubernetes, one go build)
#     etcd                                                            (Debian's etcd-server, or go.etcd.io/etcd/server/v3)
#     helm                                                            (helm.sh/helm/v3)
#
# Everything comes from the Go module proxy (and, for RUNNEL_ETCD=debian, from apt). Each
# component has a stamp named after its version; a component whose stamp and binaries exist is
# not rebuilt, so a warm run takes seconds. Safe to run concurrently (flock), without stdin (CI).
#
# Environment:
#   K8S_VERSION   Kubernetes release               (default: versions.env)
#   ETCD_VERSION  etcd release built from source    (default: versions.env)
#   HELM_VERSION  helm release                     (default: versions.env)
#   RUNNEL_ETCD   debian | source                   (default debian: Debian's etcd-server 3.4,
#                 which kube-apiserver 1.33 accepts; falls back to source when apt is unavailable)
#   RUNNEL_CACHE  cache root                        (default $HOME/.cache/runnel)
#   RUNNEL_BUILD_NICE  niceness of the go builds    (default 19)
#
# Prints, as its last lines, `RUNNEL_K8S_BIN=<dir>` and the cache size.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Defaults live in versions.env (cluster.ts reads the same file); the environment overrides them.
eval "$(sed -n 's/^\([A-Z0-9_]*\)=\(.*\)$/: ${\1:=\2}/p' "$HERE/versions.env")"
RUNNEL_ETCD=${RUNNEL_ETCD:-debian}
NICE=${RUNNEL_BUILD_NICE:-19}
CACHE_ROOT=${RUNNEL_CACHE:-${HOME:-/root}/.cache/runnel}
DIR="$CACHE_ROOT/k8s-$K8S_VERSION"
BIN="$DIR/bin"
STAMPS="$DIR/stamps"
INFO="$DIR/build-info.txt"

log() { printf '[setup %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# Name the command that failed (CI logs then say which step broke, not just an exit code).
set -E
trap 'log "FAILED (exit $?): $BASH_COMMAND  [${FUNCNAME[0]:-main}, line $LINENO]"' ERR

command -v go >/dev/null || die "go is not on PATH (needs Go >= 1.24)"
gover=$(go env GOVERSION | sed 's/^go//')
case "$gover" in
  1.2[4-9]*|1.[3-9][0-9]*|[2-9].*) ;;
  *) die "Go $gover is too old; k8s.io/kubernetes $K8S_VERSION needs Go >= 1.24" ;;
esac

mkdir -p "$BIN" "$STAMPS"
exec 9>"$DIR/.lock"
if ! flock -n 9; then
  log "another setup holds $DIR/.lock; waiting for it"
  flock 9
fi

# Builds are plain module builds: no VCS stamping, no vendor dir, static binaries.
export GOFLAGS="-buildvcs=false"
export CGO_ENABLED=0
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/runnel-k8s-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

built=0
record() { # component seconds
  printf '%s %s built in %ss on %s (%s cores)\n' "$1" "$2" "$3" "$(date -u +%FT%TZ)" "$(nproc)" >>"$INFO"
  built=1
}

have() { # stamp binaries...
  local stamp=$1; shift
  [[ -f "$STAMPS/$stamp" ]] || return 1
  local b
  for b in "$@"; do [[ -x "$BIN/$b" ]] || return 1; done
}

# Prints the module paths that the go.mod file $1 replaces with a relative directory
# (`=> ./staging/...` in k8s.io/kubernetes, `=> ../api` in etcd). Handles both the block
# form `replace ( ... )` and single-line `replace a => b` directives.
local_replaces() {
  awk '
    /^replace[ \t]*\(/ { inblock=1; next }
    inblock && /^\)/   { inblock=0; next }
    inblock            { line=$0 }
    !inblock && /^replace[ \t]/ { line=$0; sub(/^replace[ \t]+/, "", line) }
    line != "" {
      n = split(line, f, /[ \t]+/)
      # fields: [""] path [version] => target [version]
      for (i = 1; i <= n; i++) if (f[i] == "=>") break
      if (i < n && (f[i+1] ~ /^\.\.?\//)) { p = (f[1] == "" ? f[2] : f[1]); print p }
      line = ""
    }
  ' "$1" | sort -u
}

# Downloads module@version and prints the path of its go.mod in the module cache.
modfile() {
  local json f
  json=$(go mod download -json "$1" 2>&1) || true
  f=$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p' <<<"$json")
  if [[ -z "$f" ]]; then
    log "ERROR: go mod download -json $1 failed:"
    printf '%s\n' "$json" >&2
    return 1
  fi
  echo "$f"
}

# Writes go.mod (in the current dir) of a wrapper module that requires $1 at $2 and pins each
# module it replaces locally to version $3 (or to $2 when $3 is empty).
wrapper_gomod() { # module version pinned-version upstream-go.mod
  local mod=$1 ver=$2 pin=$3 up=$4
  local godir godebug
  godir=$(awk '$1=="go"{print $2; exit}' "$up")
  godebug=$(grep -E '^godebug ' "$up" || true)
  {
    echo "module runnel.local/e2e-build"
    echo
    echo "go ${godir:-1.24.0}"
    if [[ -n "$godebug" ]]; then echo; echo "$godebug"; fi
    echo
    echo "require $mod $ver"
    echo
    echo "replace ("
    local m
    local v
    while read -r m; do
      [[ -n "$m" && "$m" != "$mod" ]] || continue
      v=$pin
      # Without an explicit pin, use the version that the upstream go.mod itself requires;
      # a locally replaced module it does not require (e.g. a FORBIDDEN_DEPENDENCY) is skipped.
      [[ -n "$v" ]] || v=$(awk -v m="$m" '($1==m && $2 ~ /^v/){print $2; exit} ($1=="require" && $2==m){print $3; exit}' "$up")
      if [[ -n "$v" ]]; then echo "	$m => $m $v"; fi
    done < <(local_replaces "$up")
    echo ")"
  } >go.mod
}

# ---------------------------------------------------------------------------------------------
# Kubernetes: kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
# ---------------------------------------------------------------------------------------------
KUBE_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
build_kube() {
  local ver=$K8S_VERSION
  [[ $ver =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || die "K8S_VERSION must look like v1.33.13, got $ver"
  local minor=${BASH_REMATCH[1]} patch=${BASH_REMATCH[2]}
  local staging="v0.$minor.$patch"
  local d="$WORK/kube" t0=$SECONDS
  mkdir -p "$d" && cd "$d"
  log "kubernetes $ver: downloading k8s.io/kubernetes and pinning its staging modules to $staging"
  local up; up=$(modfile "k8s.io/kubernetes@$ver")
  [[ -f "$up" ]] || die "go mod download k8s.io/kubernetes@$ver gave no go.mod"
  wrapper_gomod k8s.io/kubernetes "$ver" "$staging" "$up"
  local n; n=$(grep -c ' => ' go.mod || true)
  log "kubernetes $ver: $n staging modules pinned"
  (( n > 10 )) || die "found only $n staging replaces in $up; refusing to build"
  cat >tools.go <<'EOF'
//go:build tools

// Package tools only records the commands this module builds, so `go mod tidy` keeps them.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
EOF
  log "kubernetes $ver: resolving dependencies (go mod tidy)"
  nice -n "$NICE" go mod tidy
  local x=""
  local k v
  for k in client-go/pkg/version component-base/version; do
    for v in "gitVersion=$ver" "gitMajor=1" "gitMinor=$minor" "gitTreeState=clean" \
             "buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; do
      x+=" -X k8s.io/$k.$v"
    done
  done
  log "kubernetes $ver: go build ${KUBE_BINS[*]} (long: 10-25 min on 2 cores)"
  mkdir -p out
  nice -n "$NICE" go build -trimpath -ldflags "-s -w$x" -o out/ \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl
  local b
  for b in "${KUBE_BINS[@]}"; do install -m 0755 "out/$b" "$BIN/$b"; done
  "$BIN/kube-apiserver" --version >&2
  cp go.mod "$DIR/kubernetes.go.mod"
  touch "$STAMPS/kubernetes-$ver"
  record kubernetes "$ver" $((SECONDS - t0))
}

# ---------------------------------------------------------------------------------------------
# etcd
# ---------------------------------------------------------------------------------------------
build_etcd_source() {
  local ver=$ETCD_VERSION d="$WORK/etcd" t0=$SECONDS
  mkdir -p "$d" && cd "$d"
  log "etcd $ver: building go.etcd.io/etcd/server/v3 from the module proxy"
  local up; up=$(modfile "go.etcd.io/etcd/server/v3@$ver")
  [[ -f "$up" ]] || die "go mod download go.etcd.io/etcd/server/v3@$ver gave no go.mod"
  wrapper_gomod go.etcd.io/etcd/server/v3 "$ver" "" "$up"
  cat >tools.go <<'EOF2'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
EOF2
  nice -n "$NICE" go mod tidy
  mkdir -p out
  nice -n "$NICE" go build -trimpath -ldflags "-s -w" -o out/etcd go.etcd.io/etcd/server/v3
  install -m 0755 out/etcd "$BIN/etcd"
  "$BIN/etcd" --version >&2
  rm -f "$STAMPS"/etcd-*
  touch "$STAMPS/etcd-source-$ver"
  record etcd "$ver" $((SECONDS - t0))
}

use_etcd_debian() {
  # Debian's etcd-server package, unpacked into the cache rather than installed: no system
  # service, no root-owned files, no dpkg state. Needs apt lists (`apt-get update`, done here
  # when root and the first try fails). Returns 1 (the caller then builds etcd) if unavailable.
  local t0=$SECONDS d="$WORK/etcd-deb"
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || { log "etcd: no apt-get/dpkg-deb"; return 1; }
  mkdir -p "$d" && cd "$d" || return 1
  log "etcd: apt-get download etcd-server (Debian)"
  if ! apt-get download etcd-server >/dev/null 2>apt.err; then
    if [[ $(id -u) == 0 ]]; then
      apt-get update -qq >/dev/null 2>>apt.err || true
      apt-get download etcd-server >/dev/null 2>>apt.err || { log "etcd: $(tail -1 apt.err)"; return 1; }
    else
      log "etcd: apt-get download etcd-server failed: $(tail -1 apt.err)"
      return 1
    fi
  fi
  dpkg-deb -x etcd-server_*.deb root || return 1
  local v; v=$(root/usr/bin/etcd --version 2>/dev/null | awk '/etcd Version/{print $3}')
  [[ -n "$v" ]] || { log "etcd: the Debian binary does not run"; return 1; }
  install -m 0755 root/usr/bin/etcd "$BIN/etcd" || return 1
  rm -f "$STAMPS"/etcd-*
  touch "$STAMPS/etcd-debian-$v"
  record etcd "debian-$v" $((SECONDS - t0))
}

# ---------------------------------------------------------------------------------------------
# helm
# ---------------------------------------------------------------------------------------------
build_helm() {
  local ver=$HELM_VERSION t0=$SECONDS
  mkdir -p "$WORK/helm-bin"
  log "helm $ver: go install helm.sh/helm/v3/cmd/helm@$ver"
  ( cd "$WORK" && GOBIN="$WORK/helm-bin" GOFLAGS=-buildvcs=false nice -n "$NICE" go install -trimpath \
      -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$ver -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
      "helm.sh/helm/v3/cmd/helm@$ver" )
  install -m 0755 "$WORK/helm-bin/helm" "$BIN/helm"
  "$BIN/helm" version --short >&2
  touch "$STAMPS/helm-$ver"
  record helm "$ver" $((SECONDS - t0))
}

T0=$SECONDS
case "$RUNNEL_ETCD" in
  source) have "etcd-source-$ETCD_VERSION" etcd || build_etcd_source ;;
  debian)
    if ! { compgen -G "$STAMPS/etcd-debian-*" >/dev/null && [[ -x "$BIN/etcd" ]]; }; then
      use_etcd_debian || have "etcd-source-$ETCD_VERSION" etcd ||
        { log "etcd: Debian's package is unavailable; building $ETCD_VERSION instead"; build_etcd_source; }
    fi ;;
  *) die "RUNNEL_ETCD must be source or debian, got $RUNNEL_ETCD" ;;
esac
have "kubernetes-$K8S_VERSION" "${KUBE_BINS[@]}" || build_kube
have "helm-$HELM_VERSION" helm || build_helm
cd "$DIR"

size=$(du -shL "$BIN" 2>/dev/null | cut -f1)
if (( built )); then
  log "built in $((SECONDS - T0))s; $INFO has the time of each component"
else
  log "all binaries cached; nothing to build ($((SECONDS - T0))s)"
fi
[[ -f "$INFO" ]] && sed 's/^/  /' "$INFO" >&2
log "cache: $size in $BIN (Go's own module and build caches: $(du -sh "$(go env GOMODCACHE)" 2>/dev/null | cut -f1) + $(du -sh "$(go env GOCACHE)" 2>/dev/null | cut -f1))"
echo "RUNNEL_K8S_BIN=$BIN"
