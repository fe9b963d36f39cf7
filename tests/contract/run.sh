#!/usr/bin/env bash
# The OpenAPI checks: Redocly lint, the contract test against the real binary,
# and the Swagger UI browser test in headless Chromium.
#   tests/contract/run.sh BUILD_DIR
# npm packages go to BUILD_DIR/node (pinned in package.json), never the repo.
set -euo pipefail

build=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
node_dir="$build/node"
binary="$build/netdiag"
fake_ntp="$build/tests/fake_ntp_server"

sudo=()
[ "$(id -u)" -ne 0 ] && sudo=(sudo)

mkdir -p "$node_dir"
if ! cmp -s "$here/package.json" "$node_dir/package.json" || [ ! -d "$node_dir/node_modules" ]; then
  cp "$here/package.json" "$node_dir/package.json"
  (cd "$node_dir" && npm install --no-audit --no-fund --loglevel=error)
fi
# ES modules resolve packages next to the script, so the tests run from there.
cp "$here/contract.mjs" "$here/browser.mjs" "$node_dir/"

echo "--- redocly lint"
"$node_dir/node_modules/.bin/redocly" lint "$root/openapi/openapi.yaml" --format=summary

echo "--- contract test"
node "$node_dir/contract.mjs" "$binary" "$fake_ntp" "$root/openapi/openapi.yaml"

echo "--- browser test"
if [ ! -x /usr/bin/chromium ]; then
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
node "$node_dir/browser.mjs" "$binary" "$node_dir/node_modules/swagger-ui-dist" \
  "$build/browser-byteorder.png"
echo "screenshot: $build/browser-byteorder.png"
