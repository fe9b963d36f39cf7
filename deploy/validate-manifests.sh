#!/usr/bin/env bash
# Offline, schema-aware validation of deploy/kubernetes (see validate-manifests.mjs):
# the base, the https overlay, the fleet view (fleet, fleet-https).
#   deploy/validate-manifests.sh [BUILD_DIR]   (npm packages go to BUILD_DIR/node-deploy)
# Each overlay is built by the validator itself and, where kubectl is installed,
# by kustomize as `kubectl apply -k` builds it (offline: `kubectl kustomize`).
# It also proves it can fail: copies with a typo'd field, or with a promise of
# the fleet's broken, must be rejected, each for its reason.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(cd "${1:-$here/../build-test}" && pwd)
node_dir="$build/node-deploy"
mkdir -p "$node_dir"
if [ ! -d "$node_dir/node_modules/kubernetes-models" ]; then
  (cd "$node_dir" && npm install --no-audit --no-fund --loglevel=error \
    kubernetes-models@5.1.0 js-yaml@4.3.2)
fi
cp "$here/validate-manifests.mjs" "$node_dir/"
validate() { node "$node_dir/validate-manifests.mjs" "$@"; }
k8s=$here/kubernetes
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# Each overlay, and the one whose Deployment the fleet's DaemonSet must match
# (built before it).
overlays=(. https "fleet ." "fleet-https https")
for entry in "${overlays[@]}"; do
  read -r overlay same_as <<<"$entry"
  compare=()
  [ -z "$same_as" ] || compare=(--same-as "$k8s/$same_as")
  echo "== deploy/kubernetes/$overlay"
  validate "$k8s/$overlay" "${compare[@]}"
done
if command -v kubectl >/dev/null; then
  built() { echo "$scratch/built-${1//./root}.yaml"; }
  for entry in "${overlays[@]}"; do
    read -r overlay same_as <<<"$entry"
    compare=()
    [ -z "$same_as" ] || compare=(--same-as "$(built "$same_as")")
    echo "== deploy/kubernetes/$overlay as kustomize builds it (kubectl kustomize)"
    kubectl kustomize "$k8s/$overlay" >"$(built "$overlay")"
    validate "$(built "$overlay")" "${compare[@]}"
  done
else
  echo "kubectl is not installed: the overlays are not built by kustomize itself here"
fi

# Each broken copy must fail, with the message given.
rejects() {
  local expected=$1 output=$scratch/out
  shift
  if "$@" >"$output" 2>&1; then
    echo "FAIL the validator accepted a copy that should fail with: $expected"
    exit 1
  fi
  if ! grep -qF -- "$expected" "$output"; then
    echo "FAIL the validator rejected the copy, but not with: $expected"
    cat "$output"
    exit 1
  fi
  echo "rejected ($expected): ok"
}
mkdir "$scratch/base"
cp "$k8s"/base/*.yaml "$scratch/base/"
sed -i 's/^  replicas: 2/  replica: 2/' "$scratch/base/deployment.yaml"
rejects 'unknown fields Deployment.spec.replica' validate "$scratch/base"

# fleet_copy EDIT...: a fresh copy of the fleet overlay, changed by sed -i EDIT
fleet_copy() {
  rm -rf "$scratch/fleet"
  cp -r "$k8s/fleet" "$scratch/fleet"
  (cd "$scratch/fleet" && "$@")
}
validate_fleet() { validate "$scratch/fleet" --same-as "$k8s"; }
# NETDIAG_PEERS_DNS before the variable it refers to: the kubelet would leave
# $(POD_NAMESPACE) as written.
fleet_copy sed -i -e '/- name: POD_NAMESPACE/,/fieldPath: metadata.namespace/d' \
  -e '/value: netdiag-peers\./a\            - name: POD_NAMESPACE\n              valueFrom:\n                fieldRef:\n                  fieldPath: metadata.namespace' \
  daemonset.yaml
# shellcheck disable=SC2016 # the $( is the kubelet's, not the shell's
rejects 'not $(POD_NAMESPACE) in NETDIAG_PEERS_DNS' validate_fleet
fleet_copy sed -i '/publishNotReadyAddresses/d' service.yaml
rejects 'the headless Service publishes not-ready pods too' validate_fleet
fleet_copy sed -i '/clusterIP: None/d' service.yaml
rejects 'one headless Service (clusterIP: None)' validate_fleet
fleet_copy sed -i '/tolerations:/,/operator: Exists/d' daemonset.yaml
rejects 'tolerates every taint' validate_fleet
fleet_copy sed -i 's/fieldPath: spec.nodeName/fieldPath: metadata.name/' daemonset.yaml
rejects 'NETDIAG_NODE_NAME from spec.nodeName' validate_fleet
fleet_copy sed -i '/seccompProfile:/,/type: RuntimeDefault/d' daemonset.yaml
rejects "the pod's securityContext is the Deployment's" validate_fleet
fleet_copy sed -i 's/memory: 128Mi/memory: 256Mi/' daemonset.yaml
rejects "the container's resources is the Deployment's" validate_fleet

# The TLS Secret's files are 0440 and owned by root: without fsGroup, netdiag
# (user 10001) could not read them.
cp -r "$k8s" "$scratch/kubernetes"
perl -0pi -e 's{- op: add\n  path: /spec/template/spec/securityContext/fsGroup\n  value: 10001\n}{}' \
  "$scratch/kubernetes/components/tls/tls-patch.yaml"
rejects "user 10001 can read the Secret's files" validate "$scratch/kubernetes/https"
rejects "user 10001 can read the Secret's files" validate "$scratch/kubernetes/fleet-https" --same-as "$scratch/kubernetes/https"
