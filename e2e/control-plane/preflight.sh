#!/usr/bin/env bash
# Checks, before anything is built or started, that this machine can run the e2e suite, and says
# what to install if not (Debian package names). Exits 0 when everything is there, 1 otherwise.
# `npm run test:e2e` and setup.sh run it first; run it by hand to check a machine.
#
# Local mode (default) needs root and the node agent's tools (iproute2, iptables, util-linux),
# openssl (the control plane's PKI), kcat (the scenarios' client), and either the cached
# control-plane binaries (which must run) or Go >= 1.24 to build them. With
# RUNNEL_E2E_KUBECONFIG (an existing cluster, e2e/kind.sh) it needs only kubectl and helm.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
eval "$(sed -n 's/^\([A-Z0-9_]*\)=\(.*\)$/: ${\1:=\2}/p' "$HERE/versions.env")"
CACHE_ROOT=${RUNNEL_CACHE:-${HOME:-/root}/.cache/runnel}
DIR="$CACHE_ROOT/k8s-$K8S_VERSION"
BINS=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl helm)

problems=()
packages=()
problem() { # message [debian-package]
  problems+=("$1")
  if [[ -n "${2:-}" && " ${packages[*]} " != *" $2 "* ]]; then packages+=("$2"); fi
}
need() { # command debian-package what-for
  command -v "$1" >/dev/null 2>&1 || problem "$1 is not on PATH ($3)" "$2"
}
# A binary that exists but does not run (truncated download, wrong architecture) fails here, not
# in the middle of a test.
runs() { # binary args...
  local out
  if ! out=$("$@" 2>&1 </dev/null); then
    problem "$1 does not run: $(tail -1 <<<"$out")"
  fi
}

if [[ -n "${RUNNEL_E2E_KUBECONFIG:-}" ]]; then
  [[ -r "$RUNNEL_E2E_KUBECONFIG" ]] || problem "RUNNEL_E2E_KUBECONFIG=$RUNNEL_E2E_KUBECONFIG is not a readable file"
  for b in kubectl helm; do
    if [[ -n "${RUNNEL_K8S_BIN:-}" ]]; then
      [[ -x "$RUNNEL_K8S_BIN/$b" ]] || problem "$RUNNEL_K8S_BIN/$b is missing (RUNNEL_K8S_BIN)"
    else
      command -v "$b" >/dev/null 2>&1 || problem "$b is not on PATH (existing-cluster mode runs kubectl and helm from PATH, or from RUNNEL_K8S_BIN)"
    fi
  done
else
  [[ $(id -u) == 0 ]] || problem "not root: the node agent creates network namespaces, a bridge, iptables NAT rules and bind mounts (run as root)"
  need ip iproute2 "node agent: network namespaces, veths, the bridge"
  need iptables iptables "node agent: service chains"
  need iptables-restore iptables "node agent: service rules"
  need unshare util-linux "node agent: each container's UTS namespace; host clients' hosts file"
  need mount mount "node agent: volumes"
  need flock util-linux "setup.sh: one build at a time"
  need openssl openssl "control plane: CA and serving certificates"
  need kcat kcat "scenarios: produce and consume like a user"
  if [[ $(id -u) == 0 ]] && command -v iptables >/dev/null 2>&1; then
    out=$(iptables -w 5 -t nat -S OUTPUT 2>&1) || problem "iptables cannot read the nat table: $(tail -1 <<<"$out") (the kernel needs nf_tables or ip_tables with nat)"
  fi

  if [[ -n "${RUNNEL_K8S_BIN:-}" ]]; then
    for b in "${BINS[@]}"; do
      if [[ -x "$RUNNEL_K8S_BIN/$b" ]]; then continue; fi
      problem "$RUNNEL_K8S_BIN/$b is missing (RUNNEL_K8S_BIN names prebuilt binaries; unset it to build them)"
    done
    bin=$RUNNEL_K8S_BIN
  else
    bin="$DIR/bin"
    missing=()
    for b in "${BINS[@]}"; do [[ -x "$bin/$b" ]] || missing+=("$b"); done
    [[ -f "$DIR/stamps/kubernetes-$K8S_VERSION" ]] || missing+=("kubernetes-$K8S_VERSION")
    [[ -f "$DIR/stamps/helm-$HELM_VERSION" ]] || missing+=("helm-$HELM_VERSION")
    if (( ${#missing[@]} > 0 )); then
      # setup.sh will build: it needs Go (and, for Debian's etcd, apt; it falls back to Go).
      if ! command -v go >/dev/null 2>&1; then
        problem "go is not on PATH, and the control plane must be built (not cached in $DIR: ${missing[*]}); it needs Go >= 1.24: Debian bookworm's golang-go is 1.19, too old; trixie's golang-go (1.24) or a Go toolchain from the Go project works"
      else
        gover=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
        case "$gover" in
          1.2[4-9]*|1.[3-9][0-9]*|[2-9].*) ;;
          *) problem "Go $gover is too old to build the control plane (not cached in $DIR: ${missing[*]}); it needs Go >= 1.24" ;;
        esac
      fi
    fi
  fi
  # Binaries that are there must run.
  [[ -x "$bin/kube-apiserver" ]] && runs "$bin/kube-apiserver" --version
  [[ -x "$bin/kubectl" ]] && runs "$bin/kubectl" version --client
  [[ -x "$bin/etcd" ]] && runs "$bin/etcd" --version
  [[ -x "$bin/helm" ]] && runs "$bin/helm" version --short
fi

if (( ${#problems[@]} == 0 )); then exit 0; fi
{
  echo "e2e preflight: this machine cannot run the end-to-end suite yet; nothing was built or started."
  for p in "${problems[@]}"; do echo "  - $p"; done
  if (( ${#packages[@]} > 0 )); then
    echo "Install the missing tools (Debian):"
    echo "  apt-get update && apt-get install -y ${packages[*]}"
  fi
} >&2
exit 1
