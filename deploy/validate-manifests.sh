#!/usr/bin/env bash
# Offline, schema-aware validation of deploy/kubernetes (see validate-manifests.mjs).
#   deploy/validate-manifests.sh [BUILD_DIR]   (npm packages go to BUILD_DIR/node-deploy)
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
node "$node_dir/validate-manifests.mjs" "$here/kubernetes"
node "$node_dir/validate-manifests.mjs" "$here/kubernetes/https"

broken=$(mktemp -d)
trap 'rm -rf "$broken"' EXIT
cp "$here"/kubernetes/*.yaml "$broken/"
sed -i 's/^  replicas: 2/  replica: 2/' "$broken/deployment.yaml"
if node "$node_dir/validate-manifests.mjs" "$broken" >"$broken/out" 2>&1; then
  echo "FAIL the validator accepted a Deployment with 'replica: 2'"
  exit 1
fi
grep -q 'unknown fields Deployment.spec.replica' "$broken/out"
echo "a typo'd field is rejected: ok"
