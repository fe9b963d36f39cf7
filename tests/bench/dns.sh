#!/usr/bin/env bash
# /dns under load, on demand (run.sh calls it last; it also runs alone):
#   tests/bench/dns.sh [BUILD_DIR]
# netdiag (--threads 1) on core 0; unbound (tests/dns/prepare.sh), wrk and
# the /dns clients on core 1. Two cases, each against /byteorder's
# keep-alive p99 alone, in $BENCH_ROUNDS rounds (medians):
#   held:  1,000 /dns queries waiting at once on a silent server (the
#          fake_dns_server), held by one client process; netdiag's threads
#          are counted before and while they wait;
#   load:  1,000 /dns queries kept in flight against the local unbound
#          (dns_load: 1,000 keep-alive connections, each asking again as
#          soon as it is answered), their rate and latency.
set -euo pipefail

# shellcheck source=tests/bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
in_flight=${BENCH_DNS_IN_FLIGHT:-1000}
for tool in wrk taskset unbound ldns-signzone; do
  command -v "$tool" >/dev/null || { echo "bench dns: $tool is missing (./scripts/dev bench installs it)" >&2; exit 2; }
done
ulimit -n "$(ulimit -Hn)"
# A port free for UDP and TCP (a DNS server binds both), below the ephemeral range.
free_dns_port() {
  python3 -c '
import random, socket
while True:
    port = random.randint(20000, 31999)
    try:
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            s = socket.socket(socket.AF_INET, kind); s.bind(("127.0.0.1", port)); s.close()
        print(port); break
    except OSError:
        pass'
}
threads_of() { awk '/^Threads/ {print $2}' "/proc/$1/status"; }
metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
p99() { taskset -c 1 wrk -t1 -c64 -d"${seconds}s" --latency "http://127.0.0.1:$port/byteorder?value=1234" 2>&1 | awk '$1 == "99%" {print $2}' | to_ms; }

dns_port=$(free_dns_port)
mkdir -p "$work/unbound"
bash "$root/tests/dns/prepare.sh" "$work/unbound" "$dns_port"
taskset -c 1 unbound -d -c "$work/unbound/unbound.conf" >"$work/unbound.log" 2>&1 &
pids+=("$!")
"$tools/fake_dns_server" --port-file "$work/silent.port" --mode silent --max-seconds 600 2>/dev/null &
pids+=("$!")
for _ in $(seq 100); do [ -s "$work/silent.port" ] && break; sleep 0.02; done
silent_port=$(cat "$work/silent.port")

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
taskset -c 0 "$build/netdiag" --listen "127.0.0.1:$port" --echo-listen off --threads 1 --access-log off \
  --slow-max-waiting $((in_flight * 2)) --dns-servers "127.0.0.1:$dns_port" >"$work/netdiag.log" 2>&1 &
netdiag_pid=$!
pids+=("$netdiag_pid")
for _ in $(seq 200); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/dns?name=www.netdiag.test&timeout_ms=200")" = 200 ] && break
  sleep 0.05
done
idle_threads=$(threads_of "$netdiag_pid")

alone="" held="" loaded="" held_threads="" held_waiting="" load_lines=""
for round in $(seq "$rounds"); do
  echo "bench dns: round $round of $rounds" >&2
  alone+="$(p99) "
  # Held: every query waits out its timeout on the silent server.
  taskset -c 1 "$tools/hold" "$port" "$in_flight" $((seconds + 3)) wait \
    "/dns?name=www.netdiag.test&server=127.0.0.1:$silent_port&timeout_ms=$(((seconds + 2) * 1000))" >/dev/null &
  pids+=("$!")
  for _ in $(seq 100); do [ "$(metric netdiag_slow_requests_waiting)" -ge "$in_flight" ] && break; sleep 0.05; done
  held_waiting+="$(metric netdiag_slow_requests_waiting) "
  held_threads+="$(threads_of "$netdiag_pid") "
  held+="$(p99) "
  sleep 3 # they time out
  # Load: kept in flight against unbound.
  taskset -c 1 "$tools/dns_load" "$port" "$in_flight" $((seconds + 2)) \
    "/dns?name=www.netdiag.test" >"$work/load" &
  load_pid=$!
  pids+=("$load_pid")
  sleep 0.5
  loaded+="$(p99) "
  wait "$load_pid"
  load_lines+="$(cat "$work/load")"$'\n'
done

change() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.0f%%", (b > 0 ? (a - b) / b * 100 : 0)}'; }
base=$(median_of "$alone")
echo
echo "dns: /byteorder keep-alive p99 ${base} ms alone (by round: ${alone% })"
echo "dns held: ${in_flight} /dns queries waiting on a silent server (netdiag_slow_requests_waiting ${held_waiting% });" \
  "netdiag threads ${idle_threads} idle, ${held_threads% } while they wait;" \
  "/byteorder p99 $(median_of "$held") ms ($(change "$(median_of "$held")" "$base"); by round: ${held% })"
echo "dns load: ${in_flight} /dns queries kept in flight against the local unbound; /byteorder p99" \
  "$(median_of "$loaded") ms ($(change "$(median_of "$loaded")" "$base"); by round: ${loaded% })"
printf '%s' "$load_lines" | sed 's/^/dns load: \/dns /'
