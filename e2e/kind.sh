#!/usr/bin/env bash
# The e2e scenarios on kind, for machines with Docker (also: npm run e2e:kind).
#
#   1. builds runnel/broker and runnel/operator from docker/*.Dockerfile, tagged with the chart's
#      appVersion (the tags the chart runs by default), and pulls the kcat image the suite uses;
#   2. creates a kind cluster and loads the three images into it;
#   3. installs charts/runnel-operator with helm;
#   4. runs the same scenario files as `npm run test:e2e` against that cluster
#      (RUNNEL_E2E_KUBECONFIG: no local control plane or node agent; clients run in a pod);
#   5. exports the cluster's logs next to the suite's, and deletes the cluster.
#
# Needs docker, kind, kubectl, helm, and `npm ci` done. Environment:
#   KIND_CLUSTER      cluster name (default runnel-e2e; an existing one of that name is replaced)
#   KIND_NODE_IMAGE   kindest/node image (default: kind's own default)
#   KEEP_CLUSTER=1    keep the cluster afterwards (kubeconfig in the run dir)
#   RUNNEL_E2E_KCAT_IMAGE, RUNNEL_E2E_BROKERS: as in e2e/README.md
# Arguments are passed to vitest (e.g. e2e/scenarios/rolling-restart-loses-no-acknowledged-record.test.ts).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "kind.sh: $tool is not on PATH" >&2; exit 1; }
done
[ -d node_modules ] || { echo "kind.sh: run npm ci first" >&2; exit 1; }

cluster=${KIND_CLUSTER:-runnel-e2e}
version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' charts/runnel-operator/Chart.yaml)
kcat_image=${RUNNEL_E2E_KCAT_IMAGE:-edenhill/kcat:1.7.1}
run_dir=$PWD/e2e/.runs/kind-$(date -u +%Y%m%d-%H%M%S)
kubeconfig=$run_dir/kubeconfig
mkdir -p "$run_dir"
echo "kind.sh: run dir $run_dir"

docker build -f docker/broker.Dockerfile -t "runnel/broker:$version" .
docker build -f docker/operator.Dockerfile -t "runnel/operator:$version" .
docker pull "$kcat_image"

kind delete cluster --name "$cluster" >/dev/null 2>&1 || true
kind create cluster --name "$cluster" --kubeconfig "$kubeconfig" ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"} --wait 180s
finish() {
  kind export logs "$run_dir/kind-logs" --name "$cluster" >/dev/null 2>&1 || true
  if [ -n "${KEEP_CLUSTER:-}" ]; then
    echo "kind.sh: cluster $cluster kept; export KUBECONFIG=$kubeconfig"
  else
    kind delete cluster --name "$cluster"
  fi
  echo "kind.sh: logs in $run_dir (kind-logs/) and e2e/.runs/cp-* (the scenarios' own, one run dir per file)"
}
trap finish EXIT
kind load docker-image --name "$cluster" "runnel/broker:$version" "runnel/operator:$version" "$kcat_image"

helm install runnel-operator charts/runnel-operator --kubeconfig "$kubeconfig" \
  --namespace runnel-system --create-namespace --wait --timeout 180s

RUNNEL_E2E_KUBECONFIG=$kubeconfig RUNNEL_E2E_KCAT_IMAGE=$kcat_image \
  npx vitest run --config e2e/vitest.config.mts "$@"
