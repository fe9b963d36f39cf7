#!/usr/bin/env bash
# A real DNS server for the /dns tests: unbound (Debian's, foreground,
# unprivileged) on 127.0.0.1:PORT, serving the zones beside this script.
#   tests/dns/prepare.sh DIR PORT     writes DIR/unbound.conf; then run
#   unbound -d -c DIR/unbound.conf
# netdiag.test is signed here, with a fresh key (ldns-keygen, ldns-signzone),
# and unbound validates it with that key as its trust anchor, so answers
# carry AD and, with DO, RRSIGs. unbound has no upstream at all (every
# address is in do-not-query-address): a name outside the zones is a SERVFAIL
# at once, and nothing leaves the machine. refused.test answers REFUSED.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=$(cd "$1" && pwd)
port=$2

cp "$here"/*.zone "$dir/"
cd "$dir"
key=$(ldns-keygen -a ECDSAP256SHA256 -k netdiag.test)
# Valid from an hour ago (clocks differ) for 30 days.
ldns-signzone -i "$(date -u -d '-1 hour' +%Y%m%d%H%M%S)" -e "$(date -u -d '+30 days' +%Y%m%d%H%M%S)" \
  -f netdiag.test.zone.signed netdiag.test.zone "$key"

cat >unbound.conf <<CONF
server:
  interface: 127.0.0.1@$port
  port: $port
  username: ""
  chroot: ""
  directory: "$dir"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 1
  num-threads: 1
  so-reuseport: no
  access-control: 127.0.0.0/8 allow
  do-not-query-address: 0.0.0.0/0
  do-not-query-address: ::/0
  rrset-roundrobin: no
  minimal-responses: no
  trust-anchor-file: "$dir/$key.ds"
  local-zone: "test." nodefault
  local-zone: "2.0.192.in-addr.arpa." nodefault
  local-zone: "8.b.d.0.1.0.0.2.ip6.arpa." nodefault
  local-zone: "refused.test." refuse
auth-zone:
  name: "netdiag.test."
  zonefile: "$dir/netdiag.test.zone.signed"
  for-downstream: no
  for-upstream: yes
auth-zone:
  name: "2.0.192.in-addr.arpa."
  zonefile: "$dir/2.0.192.in-addr.arpa.zone"
  for-downstream: no
  for-upstream: yes
auth-zone:
  name: "8.b.d.0.1.0.0.2.ip6.arpa."
  zonefile: "$dir/8.b.d.0.1.0.0.2.ip6.arpa.zone"
  for-downstream: no
  for-upstream: yes
remote-control:
  control-enable: no
CONF
unbound-checkconf unbound.conf >/dev/null
