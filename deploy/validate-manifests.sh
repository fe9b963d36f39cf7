#!/usr/bin/env bash
# Offline, schema-aware validation of deploy/kubernetes (see validate-manifests.mjs):
# the base and the https overlay.
#   deploy/validate-manifests.sh [BUILD_DIR]   (npm packages go to BUILD_DIR/node-deploy)
# Each overlay is built by the validator itself and, where kubectl is installed,
# by kustomize as `kubectl apply -k` builds it (offline: `kubectl kustomize`).
# It also proves it can fail: a copy with a typo'd field must be rejected.
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

overlays=(. https)
for overlay in "${overlays[@]}"; do
  echo "== deploy/kubernetes/$overlay"
  validate "$k8s/$overlay"
done
if command -v kubectl >/dev/null; then
  for overlay in "${overlays[@]}"; do
    echo "== deploy/kubernetes/$overlay as kustomize builds it (kubectl kustomize)"
    kubectl kustomize "$k8s/$overlay" >"$scratch/built.yaml"
    validate "$scratch/built.yaml"
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


# The TLS Secret's files are 0440 and owned by root: without fsGroup, netdiag
# (user 10001) could not read them.
cp -r "$k8s" "$scratch/kubernetes"
perl -0pi -e 's{- op: add\n  path: /spec/template/spec/securityContext/fsGroup\n  value: 10001\n}{}' \
  "$scratch/kubernetes/components/tls/tls-patch.yaml"
rejects "user 10001 can read the Secret's files" validate "$scratch/kubernetes/https"
