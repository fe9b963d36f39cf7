#!/usr/bin/env bash
# Proves the Dockerfile's runtime stage without a Docker engine: a Debian
# bookworm root made with debootstrap --variant=minbase, exactly the packages
# of deploy/runtime-packages.txt (the list the Dockerfile installs), the same
# non-root user (10001), the built binary; then netdiag runs there as that
# user and must answer /healthz and /service?port=80 and stop cleanly on SIGTERM.
#   deploy/chroot-check.sh [BUILD_DIR]     (default: build-test)
# Needs root (chroot). The root file system is cached under BUILD_DIR, keyed
# by the package list, so later runs take seconds.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build-test}" && pwd)
binary="$build/netdiag"
packages_file="$root/deploy/runtime-packages.txt"

if [ "$(id -u)" -ne 0 ]; then
  echo "chroot-check: needs root (chroot, debootstrap); skipped" >&2
  exit 77
fi
[ -x "$binary" ] || { echo "chroot-check: no $binary; build first" >&2; exit 1; }
command -v debootstrap >/dev/null || {
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}

# The Debian mirror this machine's apt already uses.
mirror=$(sed -n 's/^URIs: *\([^ ]*debian\/*\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || { echo "chroot-check: no Debian mirror found in the apt sources" >&2; exit 1; }

packages=$(grep -v '^\s*#' "$packages_file" | grep -v '^\s*$' | tr '\n' ' ')
key=$(sha256sum "$packages_file" | cut -c1-12)
rootfs="$build/chroot-bookworm-$key"

if [ ! -f "$rootfs/.ready" ]; then
  rm -rf "$rootfs"
  echo "chroot-check: debootstrap --variant=minbase bookworm ($mirror)"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$build/chroot-debootstrap.log" 2>&1 ||
    { tail -n 20 "$build/chroot-debootstrap.log" >&2; exit 1; }
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  echo "chroot-check: installing $packages"
  # The same commands as the Dockerfile's runtime stage.
  chroot "$rootfs" /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends $packages && rm -rf /var/lib/apt/lists/* && \
    groupadd --system --gid 10001 netdiag && \
    useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin netdiag" \
    >"$build/chroot-install.log" 2>&1 || { tail -n 20 "$build/chroot-install.log" >&2; exit 1; }
  touch "$rootfs/.ready"
fi

install -m 0755 "$binary" "$rootfs/usr/bin/netdiag"

# Every library the binary needs comes from the listed packages.
if chroot "$rootfs" /usr/bin/ldd /usr/bin/netdiag | grep -q 'not found'; then
  chroot "$rootfs" /usr/bin/ldd /usr/bin/netdiag >&2
  echo "chroot-check: FAIL a library is missing from deploy/runtime-packages.txt" >&2
  exit 1
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
http_port=$(free_port)
echo_port=$(free_port)
log="$build/chroot-netdiag.log"
chroot --userspec=10001:10001 "$rootfs" /usr/bin/netdiag --listen "127.0.0.1:$http_port" \
  --echo-listen "127.0.0.1:$echo_port" --log-format json >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT

for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$http_port/healthz" >/dev/null 2>&1 && break
  sleep 0.05
done
failures=0
check() {
  if eval "$2"; then echo "chroot-check: ok   $1"; else echo "chroot-check: FAIL $1"; failures=$((failures + 1)); fi
}
# chroot execs netdiag after switching user, so the process is netdiag itself.
check "runs as uid 10001" "[ \"\$(awk '/^Uid:/ {print \$2}' /proc/$server/status)\" = 10001 ]"
check "/healthz answers 200" "curl -fsS http://127.0.0.1:$http_port/healthz | grep -q '\"status\":\"ok\"'"
check "/service?port=80 is http" \
  "curl -fsS 'http://127.0.0.1:$http_port/service?port=80' | grep -q '\"name\":\"http\"'"
check "the image's own healthcheck passes" \
  "chroot --userspec=10001:10001 $rootfs /usr/bin/netdiag --healthcheck http://127.0.0.1:$http_port/healthz"

kill -TERM "$server"
status=0
wait "$server" || status=$?
trap - EXIT
check "SIGTERM exits 0" "[ $status -eq 0 ]"
echo "$((4 + 1 - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
