#!/usr/bin/env bash
# The OpenAPI checks, one entry point (ctest's contract.openapi runs it):
#   1. Redocly lint of openapi/openapi.yaml (rules in redocly.yaml);
#   2. the contract test (contract.mjs) against the real binary;
#   3. the browser test (browser.mjs) in Debian's headless Chromium: Swagger UI,
#      and the fleet page (/fleet.html) of a fleet simulated on the loopback.
#
#   tests/contract/run.sh BUILD_DIR
#
# The binary is NETDIAG_BINARY (default BUILD_DIR/netdiag), the test tools
# (fake_ntp_server) are in NETDIAG_TOOLS_DIR (default BUILD_DIR/tests). npm
# packages, pinned by package.json and package-lock.json here, are installed
# into BUILD_DIR/node, never into the repository, and only again when those
# two files change. Swagger UI's files are copied to BUILD_DIR/swagger-ui
# (where netdiag finds them beside the binary) when that is missing. The
# fleet view's checks start dnsmasq (Debian's dnsmasq-base, the binary alone)
# as the peers' DNS server. The screenshots go to BUILD_DIR/browser-*.png.
# Every step runs; the exit status is non-zero when any failed.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
node_dir="$build/node"
docs_dir="$build/swagger-ui"
binary="${NETDIAG_BINARY:-$build/netdiag}"
tools_dir="${NETDIAG_TOOLS_DIR:-$build/tests}"
screenshot="$build/browser-byteorder.png"
# The tests run with names from /etc/hosts alone (the npm installs before
# them need the registry's name, so only the tests are wrapped).
names_from_files="$root/tests/tools/names-from-files.sh"

# No usage reports, update checks or browser downloads: this machine reaches
# the package registries and nothing else.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm_config_update_notifier=false

sudo=()
[ "$(id -u)" -ne 0 ] && sudo=(sudo)
apt_install() {
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" >/dev/null
}

for file in "$binary" "$tools_dir/fake_ntp_server"; do
  if [ ! -x "$file" ]; then
    echo "run.sh: $file is missing: build first (cmake --build $build)" >&2
    exit 1
  fi
done

command -v npm >/dev/null 2>&1 || apt_install nodejs npm
[ -x /usr/sbin/dnsmasq ] || command -v dnsmasq >/dev/null 2>&1 || apt_install dnsmasq-base
# Redocly CLI and playwright-core need Node.js 20.19 or later.
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
  echo "run.sh: Node.js $(node --version) is too old; the OpenAPI tools need 20.19 or later" >&2
  exit 1
fi

echo "--- npm packages (BUILD_DIR/node)"
stamp="$node_dir/.contract-packages.sha256"
wanted=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1)
if [ ! -d "$node_dir/node_modules" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  mkdir -p "$node_dir"
  cp "$here/package.json" "$here/package-lock.json" "$node_dir/"
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$wanted" >"$stamp"
  echo "installed"
else
  echo "already installed"
fi

if [ ! -f "$docs_dir/swagger-ui-bundle.js" ]; then
  mkdir -p "$docs_dir"
  cp "$node_dir/node_modules/swagger-ui-dist/"*.{js,css,png} "$docs_dir/"
  echo "Swagger UI copied to $docs_dir"
fi

passed=0
failed=0
step() {
  local name=$1
  shift
  echo
  echo "--- $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    failed=$((failed + 1))
  fi
}

lint() {
  # redocly.yaml names the document; its rules make every finding an error.
  (cd "$root" && "$node_dir/node_modules/.bin/redocly" lint --config "$root/redocly.yaml")
}

browser() {
  if [ ! -x /usr/bin/chromium ]; then
    echo "installing chromium (Debian)"
    apt_install chromium
  fi
  "$names_from_files" node "$here/browser.mjs" --binary "$binary" --docs-dir "$docs_dir" --screenshot "$screenshot" \
    --node-dir "$node_dir"
}

step "redocly lint" lint
step "contract test" "$names_from_files" node "$here/contract.mjs" --binary "$binary" --tools-dir "$tools_dir" \
  --openapi "$root/openapi/openapi.yaml" --docs-dir "$docs_dir" --node-dir "$node_dir"
step "browser test" browser

echo
echo "contract: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
