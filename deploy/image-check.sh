#!/usr/bin/env bash
# Builds the Dockerfile with buildah and checks the image it makes.
#   deploy/image-check.sh [BUILD_DIR] [ARCH]   (defaults: build-test, this machine's architecture)
#
# The base image, docker.io/library/debian:trixie, is a debootstrap'd root
# (scripts/debian-root) imported under that name: no registry is reachable
# here, and the Dockerfile stays the one `docker build` uses anywhere else.
# buildah's storage is BUILD_DIR/buildah (vfs); the build's containers are
# removed and only the last image of each architecture is kept.
#
# The image is then run as a container runtime would run it, from its own
# configuration (entrypoint, user, environment, health check): podman run
# does not work here (crun cannot set rlimits), so netdiag runs in a chroot
# of the image's root, bind-mounted read-only, as the image's user. For
# another architecture than this machine's (arm64), netdiag runs under
# qemu-user-static, placed in the container's root, the only files it sees.
# Needs root (buildah, mount, chroot); exits 77 (skipped) otherwise.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(mkdir -p "${1:-$root/build-test}" && cd "${1:-$root/build-test}" && pwd)
native=$(dpkg --print-architecture)
arch=${2:-$native}
image=localhost/netdiag:check-$arch
size_limit=$((25 * 1000 * 1000)) # bytes, uncompressed
say() { echo "image-check($arch): $*"; }

if [ "$(id -u)" -ne 0 ]; then
  say "needs root (buildah, mount, chroot); skipped" >&2
  exit 77
fi
wanted=(buildah curl python3)
[ "$arch" = "$native" ] || wanted+=(qemu-user-static)
missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

storage=$build/buildah
buildah=(buildah --root "$storage/storage" --runroot "$storage/run" --storage-driver vfs)
readonly_root=$storage/readonly-root
server_pid_file=$storage/server.pid
container=

cleanup() {
  if [ -n "${server:-}" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  elif [ -f "$server_pid_file" ]; then
    # A server a killed run left, still running from the image's root.
    local stale
    stale=$(cat "$server_pid_file")
    if [ "$(readlink "/proc/$stale/root" 2>/dev/null)" = "$readonly_root" ]; then
      kill "$stale" 2>/dev/null || true
      sleep 1
    fi
  fi
  rm -f "$server_pid_file"
  local mount
  for mount in "$readonly_root/proc" "$readonly_root/dev" "$readonly_root"; do
    if mountpoint -q "$mount" && ! umount "$mount"; then
      say "could not unmount $mount: the container is left in place" >&2
      return 1
    fi
  done
  if [ -n "$container" ]; then "${buildah[@]}" rm "$container" >/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT
# What an interrupted run left behind: its mounts and containers.
cleanup || exit 1
"${buildah[@]}" rm --all >/dev/null

# --- the base image ---
base=docker.io/library/debian:trixie
if ! "${buildah[@]}" images --quiet "$base" >/dev/null 2>&1; then
  "$root/scripts/debian-root" trixie "$build/image-base-trixie"
  say "importing $build/image-base-trixie as $base"
  container=$("${buildah[@]}" from --quiet scratch)
  mounted=$("${buildah[@]}" mount "$container")
  # Left out as from Debian's own images: apt's downloads and lists,
  # device nodes, the host's resolver settings.
  tar -C "$build/image-base-trixie" -c --exclude=./.ready --exclude='./dev/*' \
    --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/lib/apt/lists/*' \
    --exclude=./etc/resolv.conf . | tar -C "$mounted" -x
  "${buildah[@]}" config --cmd /bin/bash "$container"
  "${buildah[@]}" commit --quiet --rm "$container" "$base" >/dev/null
  container=
fi

# --- the build ---
version=$(sed -n 's/^project(netdiag VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
revision=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
source=$(git -C "$root" remote get-url origin 2>/dev/null || echo "$root")
say "buildah bud --platform linux/$arch (log: $build/image-build-$arch.log)"
started=$(date +%s)
# buildah 1.28 sets BUILDPLATFORM only when no --platform is given: say it.
# --format docker keeps the HEALTHCHECK, which the OCI format has no field for.
if ! "${buildah[@]}" bud --isolation chroot --pull-never --format docker --force-rm --layers=false \
  --platform "linux/$arch" --build-arg BUILDPLATFORM="linux/$native" --build-arg BUILDARCH="$native" \
  --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt \
  --build-arg VERSION="$version" --build-arg REVISION="$revision" \
  --build-arg CREATED="$created" --build-arg SOURCE="$source" \
  --tag "$image" --file "$root/Dockerfile" "$root" >"$build/image-build-$arch.log" 2>&1; then
  tail -n 30 "$build/image-build-$arch.log" >&2
  say "FAIL the build"
  exit 1
fi
build_seconds=$(($(date +%s) - started))
# The image this build replaced, now untagged.
"${buildah[@]}" rmi --prune >/dev/null 2>&1 || true

# --- the image's configuration ---
"${buildah[@]}" inspect --type image "$image" >"$build/image-$arch.json"
config() {
  python3 - "$build/image-$arch.json" "$1" <<'EOF'
import json, sys
image = json.load(open(sys.argv[1]))
docker = image["Docker"]["config"]
what = sys.argv[2]
if what == "entrypoint":
    print("\n".join(docker["Entrypoint"]))
elif what == "env":
    print("\n".join(docker.get("Env") or []))
elif what == "user":
    print(docker["User"])
elif what == "healthcheck":
    print("\n".join(docker["Healthcheck"]["Test"]))
elif what == "architecture":
    print(image["Docker"]["architecture"])
elif what == "size":
    manifest = json.loads(image["Manifest"])
    print(sum(layer["size"] for layer in manifest["layers"]))
elif what.startswith("label:"):
    print(docker["Labels"].get("org.opencontainers.image." + what[6:], ""))
EOF
}
size=$(config size)
say "built in ${build_seconds} s; $size bytes uncompressed (the layer's tar)"

failures=0
passes=0
check() {
  if eval "$2"; then
    passes=$((passes + 1))
    say "ok   $1"
  else
    failures=$((failures + 1))
    say "FAIL $1"
  fi
}
check "architecture is $arch" '[ "$(config architecture)" = "$arch" ]'
check "at most $size_limit bytes (it is $size)" '[ "$size" -le "$size_limit" ]'
check "label version is CMake's $version" '[ "$(config label:version)" = "$version" ]'
check "label revision is $revision" '[ "$(config label:revision)" = "$revision" ]'
check "label created is $created" '[ "$(config label:created)" = "$created" ]'
check "label source is $source" '[ "$(config label:source)" = "$source" ]'
check "the Dockerfile's default version is CMake's" \
  'grep -qx "ARG VERSION=$version" "$root/Dockerfile"'
user=$(config user)
check "runs as user 10001:10001, not root" '[ "$user" = 10001:10001 ]'
mapfile -t entrypoint < <(config entrypoint)
mapfile -t environment < <(config env)
mapfile -t healthcheck < <(config healthcheck)
check "the health check is netdiag --healthcheck" \
  '[ "${healthcheck[*]}" = "CMD ${entrypoint[0]} --healthcheck" ]'

# --- the image's files ---
container=$("${buildah[@]}" from --quiet --pull-never --platform "linux/$arch" "$image")
mounted=$("${buildah[@]}" mount "$container")
check "no shell" '[ ! -e "$mounted/bin/sh" ] && [ ! -e "$mounted/usr/bin/sh" ]'
check "CA certificates at /etc/ssl/certs/ca-certificates.crt" \
  '[ "$(grep -c "BEGIN CERTIFICATE" "$mounted/etc/ssl/certs/ca-certificates.crt")" -gt 100 ]'
check "/etc/services" 'grep -q "^http[[:space:]]*80/tcp" "$mounted/etc/services"'
check "passwd and group have 10001" \
  'grep -q "^netdiag:x:10001:10001:" "$mounted/etc/passwd" && grep -q "^netdiag:x:10001:" "$mounted/etc/group"'
check "Swagger UI's files" \
  '[ -s "$mounted/usr/share/netdiag/swagger-ui/swagger-ui-bundle.js" ] && [ -s "$mounted/usr/share/netdiag/swagger-ui/swagger-ui.css" ]'

# Mount points, made as a runtime makes them before it turns the root read-only.
mkdir -p "$mounted/proc" "$mounted/dev"
emulator=()
if [ "$arch" != "$native" ]; then
  cpu=$(dpkg-architecture -a "$arch" -qDEB_HOST_GNU_CPU 2>/dev/null)
  install -m 0755 "$(command -v "qemu-$cpu-static")" "$mounted/qemu-static"
  emulator=(/qemu-static)
fi
mkdir -p "$readonly_root"
mount --bind "$mounted" "$readonly_root"
mount -o remount,bind,ro "$readonly_root"
mount --bind /proc "$readonly_root/proc"
mount --bind /dev "$readonly_root/dev"
check "the root file system is read-only" \
  '! touch "$readonly_root/.probe" 2>/dev/null && findmnt -no OPTIONS "$readonly_root" | grep -qw ro'

# in_image [NAME=VALUE...] COMMAND...: COMMAND in the image's root, as its
# user, with its environment (and NAME=VALUE, as `docker run -e` adds them).
# env and chroot exec, so the process is COMMAND itself (or the emulator
# running it): `(in_image ...) &` gives its process id.
chroot=$(command -v chroot)
in_image() {
  local assignments=()
  while [[ ${1:-} == *=* ]]; do
    assignments+=("$1")
    shift
  done
  exec env -i "${environment[@]}" "${assignments[@]}" "$chroot" --userspec="$user" \
    "$readonly_root" "${emulator[@]}" "$@"
}
check "netdiag --version" '(in_image "${entrypoint[@]}" --version) | grep -qx "netdiag $version"'

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
free_udp_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
http_port=$(free_port)
echo_port=$(free_port)
udp_echo_port=$(free_udp_port)
listen=(NETDIAG_LISTEN="127.0.0.1:$http_port" NETDIAG_ECHO_LISTEN="127.0.0.1:$echo_port"
  NETDIAG_ECHO_UDP_LISTEN="127.0.0.1:$udp_echo_port")
base_url=http://127.0.0.1:$http_port
log=$build/image-netdiag-$arch.log
# As `docker run -e NETDIAG_LISTEN=... IMAGE`: the entrypoint, no arguments.
(in_image "${listen[@]}" "${entrypoint[@]}") >"$log" 2>&1 &
server=$!
echo "$server" >"$server_pid_file"
for _ in $(seq 200); do
  curl -fsS "$base_url/healthz" >/dev/null 2>&1 && break
  sleep 0.05
done
check "the process runs as uid and gid 10001" \
  'grep -Eq "^Uid:\s+10001\s+10001\s+10001\s+10001$" /proc/$server/status && grep -Eq "^Gid:\s+10001\s+10001\s+10001\s+10001$" /proc/$server/status'
check "/healthz answers ok" 'curl -fsS "$base_url/healthz" | grep -q "\"status\":\"ok\""'
check "/readyz answers 200" 'curl -fsS -o /dev/null "$base_url/readyz"'
check "/service?port=80 is http, from /etc/services" \
  'curl -fsS "$base_url/service?port=80" | grep -q "\"name\":\"http\".*\"source\":\"system\""'
check "/docs serves Swagger UI" \
  'curl -fsS "$base_url/docs" | grep -q swagger-ui-bundle.js && curl -fsS "$base_url/docs/swagger-ui-bundle.js" | grep -q SwaggerUIBundle'
check "the echo listener echoes 1 MB" "python3 - $echo_port <<'EOF'
import os, socket, sys, threading
data = os.urandom(1 << 20)
with socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10) as s:
    def send():
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    sender = threading.Thread(target=send)
    sender.start()
    back = bytearray()
    while chunk := s.recv(65536):
        back += chunk
    sender.join()
sys.exit(0 if back == data else 1)
EOF"
check "the UDP echo sends back datagrams of 0, 1,000 and 65,507 bytes" "python3 - $udp_echo_port <<'EOF'
import os, socket, sys
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    s.connect(('127.0.0.1', int(sys.argv[1])))
    s.settimeout(5)
    for size in (0, 1000, 65507):
        data = os.urandom(size)
        s.send(data)
        if s.recv(65536) != data:
            sys.exit(1)
EOF"
check "the image's health check passes" '(in_image "${listen[@]}" "${healthcheck[@]:1}")'
kill -TERM "$server"
status=0
wait "$server" || status=$?
server=
check "SIGTERM exits 0" '[ "$status" -eq 0 ]'
check "the log is JSON" 'head -n 1 "$log" | python3 -c "import json, sys; json.loads(sys.stdin.readline())"'

[ "$failures" -eq 0 ] || tail -n 20 "$log" | sed 's/^/  netdiag: /'
echo "image-check($arch): image $image, $size bytes, built in $build_seconds s"
echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
