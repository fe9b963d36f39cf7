#!/bin/sh
# Runs a test (COMMAND ARGS...) with host names taken from /etc/hosts alone
# (nsswitch "hosts: files"), in a mount namespace of its own: a name that
# does not exist (RFC 6761's .invalid) is then EAI_NONAME at once, and no
# lookup reaches this machine's DNS server. The tests talk to loopback only.
# Needs root for the namespace; elsewhere the test runs as it is.
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1; then
  exec unshare -m sh -c '
    conf=$(mktemp) && printf "hosts: files\n" >"$conf" &&
      mount --bind "$conf" /etc/nsswitch.conf && rm -f "$conf" && exec "$@"' sh "$@"
fi
exec "$@"
