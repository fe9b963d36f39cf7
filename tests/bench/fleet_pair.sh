#!/usr/bin/env bash
# The fleet's probing cost with nothing else around it (on demand; run.sh
# does not call it):
#   tests/bench/fleet_pair.sh [BUILD_DIR]
# One prober netdiag (on ::1) whose --peers-dns name a local dnsmasq answers
# with 50 addresses, 127.0.1.1 to 127.0.1.50, and one netdiag answering on
# every one of them (listening on 0.0.0.0, same ports). Two processes, hot
# caches: what fleet.sh's 50 processes on two cores cost each other is out
# of it. Prints the CPU per round of each, from /proc/PID/task/*/schedstat,
# over $BENCH_FLEET_ROUNDS rounds of --peers-interval 1.
set -euo pipefail

# shellcheck source=tests/bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
peers=50
measured_rounds=${BENCH_FLEET_ROUNDS:-15}
for tool in dnsmasq curl python3; do
  command -v "$tool" >/dev/null || { echo "bench fleet_pair: $tool is missing" >&2; exit 2; }
done

http_port=$(free_port)
echo_port=$(free_udp_port)
dns_port=$(free_udp_port)
chmod 755 "$work"
for i in $(seq "$peers"); do echo "127.0.1.$i netdiag-peers.bench.test"; done >"$work/hosts"
dnsmasq --keep-in-foreground --port="$dns_port" --listen-address=127.0.0.1 --bind-interfaces \
  --no-resolv --no-hosts --addn-hosts="$work/hosts" --local=/test/ --local-ttl=0 --pid-file= \
  --conf-file=/dev/null --log-facility=- >"$work/dnsmasq.log" 2>&1 &
pids+=("$!")
"$build/netdiag" --listen "0.0.0.0:$http_port" --echo-listen "0.0.0.0:$echo_port" --threads 1 \
  --access-log off >"$work/server.log" 2>&1 &
server_pid=$!
pids+=("$server_pid")
"$build/netdiag" --listen "[::1]:$http_port" --echo-listen "[::1]:$echo_port" --threads 1 \
  --access-log off --peers-dns netdiag-peers.bench.test --peers-dns-server "127.0.0.1:$dns_port" \
  --peers-interval 1 --pod-ip 127.0.2.1 --node-name prober >"$work/prober.log" 2>&1 &
prober_pid=$!
pids+=("$prober_pid")

fleet() { curl -fs "http://[::1]:$http_port/fleet" | python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
for _ in $(seq 100); do
  [ "$(fleet '["summary"]["healthy"]' 2>/dev/null || echo 0)" = "$peers" ] && break
  sleep 0.2
done
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{sum += $1} END {printf "%d", sum}'; }
rounds_before=$(fleet '["rounds"]')
prober_before=$(cpu_ns "$prober_pid")
server_before=$(cpu_ns "$server_pid")
sleep "$measured_rounds"
rounds=$(($(fleet '["rounds"]') - rounds_before))
prober=$(($(cpu_ns "$prober_pid") - prober_before))
server=$(($(cpu_ns "$server_pid") - server_before))
awk -v p="$prober" -v s="$server" -v r="$rounds" -v n="$peers" 'BEGIN {
  printf "fleet pair: %d rounds of %d peers (%s healthy); per round: the prober %.2f ms (%.1f us a peer), the server %.2f ms (%.1f us a peer), together %.2f ms\n",
    r, n, "'"$(fleet '["summary"]["healthy"]')"'", p / r / 1e6, p / r / n / 1e3, s / r / 1e6, s / r / n / 1e3, (p + s) / r / 1e6 }'
