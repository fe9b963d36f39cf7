#!/usr/bin/env bash
# The fleet view with $BENCH_FLEET_PEERS (default 50) simulated pods, on
# demand (run.sh calls it after dns.sh; it also runs alone):
#   tests/bench/fleet.sh [BUILD_DIR]
# One netdiag per address 127.0.1.1 to 127.0.1.N, the same ports on each
# (--threads 1, the production defaults otherwise), found through a local
# dnsmasq answering their name with all N addresses; every pod probes every
# other (and itself) each --peers-interval ($BENCH_FLEET_INTERVAL, default
# 2 s). Three figures, against the issue's targets:
#   CPU per interval: each process's CPU time (every thread, from
#     /proc/PID/task/*/schedstat, in ns) over $BENCH_FLEET_ROUNDS intervals,
#     divided by the rounds it ran: its own probes of N peers plus answering
#     the N peers that probe it; the median and the highest process, and the
#     median of libmicrohttpd's thread alone (the answers to GET /healthz), and
#     how many times a process's threads were put on a CPU per interval (the
#     third field of schedstat: wake-ups and returns from preemption) with the
#     CPU time each of those runs took; beside it the reference, the kernel's
#     share alone (tests/bench/fleet_floor.c);
#   /fleet?scope=all: the N x N matrix from one pod, $BENCH_ROUNDS times;
#   RSS: VmRSS of every process, the median and the highest.
# Then, the netdiag pods stopped, the same fleet of reference pods
# (tests/bench/fleet_reference.c), whose CPU per interval is measured the
# same way: the best an implementation could do under these conditions.
set -euo pipefail

# shellcheck source=tests/bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
peers=${BENCH_FLEET_PEERS:-50}
interval=${BENCH_FLEET_INTERVAL:-2}
measured_rounds=${BENCH_FLEET_ROUNDS:-15}
for tool in dnsmasq curl python3; do
  command -v "$tool" >/dev/null || { echo "bench fleet: $tool is missing (./scripts/dev bench installs it)" >&2; exit 2; }
done
ulimit -n "$(ulimit -Hn)"

address() { echo "127.0.1.$1"; }
# A port free for UDP and TCP on every pod's address, below the ephemeral range.
free_port_on_all() {
  python3 - "$peers" "$@" <<'EOF'
import random, socket, sys
count, taken = int(sys.argv[1]), set(int(p) for p in sys.argv[2:])
while True:
    port = random.randint(20000, 31999)
    if port in taken:
        continue
    try:
        for i in range(1, count + 1):
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_INET, kind)
                s.bind((f"127.0.1.{i}", port))
                s.close()
        print(port)
        break
    except OSError:
        continue
EOF
}
http_port=$(free_port_on_all)
echo_port=$(free_port_on_all "$http_port")
dns_port=$(free_port_on_all "$http_port" "$echo_port")

chmod 755 "$work"
for i in $(seq "$peers"); do echo "$(address "$i") netdiag-peers.bench.test"; done >"$work/hosts"
dnsmasq --keep-in-foreground --port="$dns_port" --listen-address=127.0.1.1 --bind-interfaces \
  --no-resolv --no-hosts --addn-hosts="$work/hosts" --local=/test/ --local-ttl=0 --pid-file= --conf-file=/dev/null \
  --log-facility=- >"$work/dnsmasq.log" 2>&1 &
pids+=("$!")

pod_pids=()
for i in $(seq "$peers"); do
  "$build/netdiag" --listen "$(address "$i"):$http_port" --echo-listen "$(address "$i"):$echo_port" \
    --threads 1 --access-log off --peers-dns netdiag-peers.bench.test \
    --peers-dns-server "127.0.1.1:$dns_port" --peers-interval "$interval" \
    --pod-ip "$(address "$i")" --node-name "node-$i" >"$work/pod-$i.log" 2>&1 &
  pids+=("$!")
  pod_pids+=("$!")
done

# wait_until_ready HEALTHY: until every pod's last round saw every peer
# healthy (or a minute passes), by "HEALTHY I", the count pod I saw; sets
# ready, how many pods did.
wait_until_ready() {
  local i
  for _ in $(seq 120); do
    ready=0
    for i in $(seq "$peers"); do
      [ "$("$1" "$i")" = "$peers" ] && ready=$((ready + 1))
    done
    [ "$ready" = "$peers" ] && return
    sleep 0.5
  done
}
# quotient A B SCALE DIGITS: A / B / SCALE with DIGITS decimals, -1 when B is 0.
quotient() { awk -v a="$1" -v b="$2" -v s="$3" -v d="$4" 'BEGIN {printf "%.*f", d, b ? a / b / s : -1}'; }

netdiag_healthy() {
  curl -fs "http://$(address "$1"):$http_port/fleet" 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["healthy"])' 2>/dev/null || echo 0
}
wait_until_ready netdiag_healthy
echo "fleet: $peers pods, interval ${interval} s; $ready of them see all $peers peers healthy"

# CPU time of every thread of a process, in ns; and of libmicrohttpd's threads
# alone (named "MHD-..."), which answer the peers' GET /healthz.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{sum += $1} END {printf "%d", sum}'; }
http_cpu_ns() {
  local task sum=0
  for task in /proc/"$1"/task/*; do
    case $(cat "$task/comm" 2>/dev/null) in
    MHD-*) sum=$((sum + $(awk '{print $1}' "$task/schedstat" 2>/dev/null || echo 0))) ;;
    esac
  done
  echo "$sum"
}
# How many times every thread of a process was put on a CPU.
runs_of() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{sum += $3} END {printf "%d", sum}'; }
rounds_of() {
  curl -fs "http://$(address "$1"):$http_port/fleet" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["rounds"])'
}
declare -a cpu_before http_before runs_before rounds_before
for i in $(seq "$peers"); do
  cpu_before[i]=$(cpu_ns "${pod_pids[i - 1]}")
  runs_before[i]=$(runs_of "${pod_pids[i - 1]}")
  http_before[i]=$(http_cpu_ns "${pod_pids[i - 1]}")
  rounds_before[i]=$(rounds_of "$i")
done
sleep $((interval * measured_rounds))
per_round="" http_per_round="" runs_per_round="" us_per_run=""
for i in $(seq "$peers"); do
  cpu=$(($(cpu_ns "${pod_pids[i - 1]}") - cpu_before[i]))
  http=$(($(http_cpu_ns "${pod_pids[i - 1]}") - http_before[i]))
  runs=$(($(runs_of "${pod_pids[i - 1]}") - runs_before[i]))
  ran=$(($(rounds_of "$i") - rounds_before[i]))
  per_round+="$(quotient "$cpu" "$ran" 1e6 3) "
  http_per_round+="$(quotient "$http" "$ran" 1e6 3) "
  runs_per_round+="$(quotient "$runs" "$ran" 1 1) "
  us_per_run+="$(quotient "$cpu" "$runs" 1e3 1) "
done
highest=$(tr ' ' '\n' <<<"$per_round" | grep -v '^$' | sort -g | tail -1)
echo "CPU per interval and process (probing $peers peers and answering their probes):" \
  "median $(median_of "$per_round") ms, highest $highest ms (target: under 5 ms);" \
  "of it, libmicrohttpd's thread answering the peers' GET /healthz: median $(median_of "$http_per_round") ms"
echo "runs on a CPU per interval and process (every thread): median $(median_of "$runs_per_round")," \
  "median $(median_of "$us_per_run") us of CPU each"
floor_us=$("$tools/fleet_floor" 127.0.1.1 20000 | awk '{print $2}')
floor_ms=$(awk -v us="$floor_us" -v n="$peers" 'BEGIN {printf "%.2f", us * n / 1000}')
echo "reference (tests/bench/fleet_floor: the same TCP and UDP exchanges, blocking, no event loop" \
  "or HTTP library): $floor_us us per peer, $floor_ms ms for $peers peers;" \
  "netdiag's median is $(ratio "$(median_of "$per_round")" "$floor_ms")x that"

matrix_runs=""
for _ in $(seq "$rounds"); do
  result=$(curl -fs -o "$work/matrix.json" -w '%{time_total}' \
    "http://$(address 1):$http_port/fleet?scope=all&timeout_ms=5000")
  cells=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(s["cells_healthy"], s["rows_reachable"])' "$work/matrix.json")
  matrix_runs+="$(awk -v t="$result" 'BEGIN {printf "%.3f", t * 1000}') "
done
echo "/fleet?scope=all: the ${peers}x${peers} matrix in median $(median_of "$matrix_runs") ms" \
  "(runs: ${matrix_runs% }; last: ${cells% *} healthy cells, ${cells#* } rows reachable;" \
  "$(wc -c <"$work/matrix.json") bytes) (target: under 2 s)"

rss=""
for pid in "${pod_pids[@]}"; do rss+="$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status") "; done
highest=$(tr ' ' '\n' <<<"$rss" | grep -v '^$' | sort -g | tail -1)
echo "RSS per process: median $(median_of "$rss") KiB, highest $highest KiB (target: under 16 MB)"

# The same fleet of reference pods (tests/bench/fleet_reference.c: the same
# probes and answers on one epoll thread, no HTTP library or libuv), measured
# the same way: the best an implementation could do under these conditions.
for pid in "${pod_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
for pid in "${pod_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
reference_http=$(free_port_on_all)
reference_echo=$(free_port_on_all "$reference_http")
reference_pids=()
for i in $(seq "$peers"); do
  "$tools/fleet_reference" "$(address "$i")" "$reference_http" "$reference_echo" "$dns_port" \
    "$peers" $((interval * 1000)) "$work/reference-$i" &
  pids+=("$!")
  reference_pids+=("$!")
done
# status file: "ROUNDS HEALTHY DNS_ANSWERS"
reference_status() {
  local line
  line=$(cat "$work/reference-$1" 2>/dev/null || true)
  echo "${line:-0 0 0}"
}
reference_healthy() { reference_status "$1" | awk '{print $2}'; }
wait_until_ready reference_healthy
declare -a reference_cpu_before reference_runs_before reference_rounds_before
for i in $(seq "$peers"); do
  reference_cpu_before[i]=$(cpu_ns "${reference_pids[i - 1]}")
  reference_runs_before[i]=$(runs_of "${reference_pids[i - 1]}")
  read -r "reference_rounds_before[i]" _ _ < <(reference_status "$i")
done
sleep $((interval * measured_rounds))
reference_per_round="" reference_runs="" answered=0
for i in $(seq "$peers"); do
  cpu=$(($(cpu_ns "${reference_pids[i - 1]}") - reference_cpu_before[i]))
  runs=$(($(runs_of "${reference_pids[i - 1]}") - reference_runs_before[i]))
  read -r rounds_now healthy dns_answers < <(reference_status "$i")
  ran=$((rounds_now - reference_rounds_before[i]))
  [ "$healthy" = "$peers" ] && [ "$dns_answers" -gt 0 ] && answered=$((answered + 1))
  reference_per_round+="$(quotient "$cpu" "$ran" 1e6 3) "
  reference_runs+="$(quotient "$runs" "$ran" 1 1) "
done
echo "reference pods (tests/bench/fleet_reference: the same probes and answers on one epoll thread," \
  "no HTTP library or libuv; $answered of $peers saw all peers healthy): CPU per interval and process" \
  "median $(median_of "$reference_per_round") ms, $(median_of "$reference_runs") runs on a CPU;" \
  "netdiag's median is" \
  "$(ratio "$(median_of "$per_round")" "$(median_of "$reference_per_round")")x that"
