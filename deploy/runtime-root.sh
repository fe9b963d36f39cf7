#!/usr/bin/env bash
# Assembles the runtime image's whole file system in ROOT, in the
# Dockerfile's build stage, around netdiag (ROOT/usr/bin/netdiag) and Swagger
# UI (ROOT/usr/share/netdiag/swagger-ui), which are already there:
#   - the shared libraries netdiag loads: its ELF dependencies (DT_NEEDED),
#     followed to the end and found where the dynamic loader looks, and the
#     loader itself (PT_INTERP). readelf reads every architecture's ELF, so a
#     cross build works the same way, and a library added to
#     scripts/build-packages.txt comes along with nothing else to change;
#   - the CA bundle (GnuTLS's default trust store on Debian), /etc/services,
#     nsswitch.conf, a user and a group 10001;
#   - for each Debian package a file came from, its copyright file and its
#     dpkg record in /var/lib/dpkg/status.d (the distroless layout, which
#     image scanners read to know the library versions).
#   deploy/runtime-root.sh ROOT ARCH        (ARCH: Debian's name, amd64, arm64)
set -euo pipefail

root=${1:?usage: deploy/runtime-root.sh ROOT ARCH}
arch=${2:?usage: deploy/runtime-root.sh ROOT ARCH}
multiarch=$(dpkg-architecture -a "$arch" -qDEB_HOST_MULTIARCH 2>/dev/null)
binary=$root/usr/bin/netdiag
[ -x "$binary" ] || {
  echo "runtime-root: no $binary" >&2
  exit 1
}

declare -A packages # Debian packages the image's files came from

# place PATH [PACKAGE]: the file PATH names, at its real path in the image,
# and PATH a relative link to it when the two differ, as Debian lays them out
# (merged /usr: /lib is a link to usr/lib). PACKAGE, for a file that no
# package ships but one makes, such as the CA bundle.
place() {
  local path=$1 real top
  real=$(realpath "$path")
  if [ ! -e "$root$real" ]; then
    install -D -m "$(stat -c %a "$real")" "$real" "$root$real"
    if [ -n "${2:-}" ]; then
      packages[$2]=1
    else
      record_package "$real" "$path"
    fi
  fi
  [ "$path" = "$real" ] && return 0
  if [[ $path == /lib* ]]; then
    top=${path#/}
    top=${top%%/*}
    [ -L "$root/$top" ] || ln -s "usr/$top" "$root/$top"
    path=/usr$path
  fi
  mkdir -p "$root$(dirname "$path")"
  [ -e "$root$path" ] || ln -sr "$root$real" "$root$path"
}

# record_package NAME...: the package that ships the file by one of its
# names (dpkg knows /usr/lib/... in trixie, /lib/... before the move to /usr);
# "libc6:arm64: /usr/lib/..." gives libc6:arm64.
record_package() {
  local name package
  for name in "$@" "${1#/usr}"; do
    package=$(dpkg-query -S "$name" 2>/dev/null | sed -n 's/^\([^ ,]*\): \/.*/\1/p' | head -n 1) || true
    if [ -n "$package" ]; then
      packages[$package]=1
      return 0
    fi
  done
  echo "runtime-root: no Debian package ships $1" >&2
}

needed() {
  readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'
}

interpreter=$(readelf -l "$binary" | sed -n 's/.*Requesting program interpreter: \(.*\)\]$/\1/p')
[ -n "$interpreter" ] || {
  echo "runtime-root: $binary names no dynamic loader" >&2
  exit 1
}
place "$interpreter"

declare -A seen
queue=("$binary")
while [ ${#queue[@]} -gt 0 ]; do
  file=${queue[0]}
  queue=("${queue[@]:1}")
  for name in $(needed "$file"); do
    [ -n "${seen[$name]:-}" ] && continue
    seen[$name]=1
    found=
    for directory in "/usr/lib/$multiarch" /usr/lib; do
      if [ -e "$directory/$name" ]; then
        found=$directory/$name
        break
      fi
    done
    [ -n "$found" ] || {
      echo "runtime-root: $name, needed by $file, is not in /usr/lib/$multiarch or /usr/lib" >&2
      exit 1
    }
    place "$found"
    queue+=("$found")
  done
done

place /etc/ssl/certs/ca-certificates.crt ca-certificates
place /etc/services

install -d "$root/etc"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnetdiag:x:10001:10001:netdiag:/nonexistent:/usr/sbin/nologin\n' \
  >"$root/etc/passwd"
printf 'root:x:0:\nnetdiag:x:10001:\n' >"$root/etc/group"
# glibc's own files and dns lookups: no NSS module to load.
printf 'passwd: files\ngroup: files\nhosts: files dns\nservices: files\nprotocols: files\n' \
  >"$root/etc/nsswitch.conf"

install -d "$root/var/lib/dpkg/status.d"
for package in "${!packages[@]}"; do
  name=${package%%:*}
  dpkg-query -s "$package" >"$root/var/lib/dpkg/status.d/$name"
  if [ -f "/usr/share/doc/$name/copyright" ]; then
    install -D -m 0644 "/usr/share/doc/$name/copyright" "$root/usr/share/doc/$name/copyright"
  fi
done

echo "runtime-root: $(find "$root" -type f | wc -l) files, $(du -sh "$root" | cut -f1)," \
  "from ${!packages[*]}"
