#!/usr/bin/env bash
# The UDP echo beside a reference, on demand (run.sh runs it too):
#   tests/bench/udp_echo.sh [BUILD_DIR]   (default build-test)
# netdiag's UDP echo (the rate limit still checked, at 1e9 datagrams/s per
# source) and tests/bench/reference_udp_echo.c (recvmmsg/sendmmsg, nothing
# else) each run on core 0, the load (udp_echo_bench: 4 sockets, 32
# datagrams in flight each, every reply checked) on core 1, $BENCH_SECONDS
# (default 4) per case, $BENCH_ROUNDS (default 3) rounds of every case in
# turn; medians. "cpu µs/dg" is the server's CPU time (/proc/PID/stat, user
# and system) over the run divided by the datagrams echoed.
set -euo pipefail

# shellcheck source=tests/bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v taskset >/dev/null || { echo "udp_echo.sh: taskset is missing" >&2; exit 2; }

netdiag_port=$(free_udp_port)
taskset -c 0 "$build/netdiag" --listen 127.0.0.1:0 --echo-listen off \
  --echo-udp-listen "127.0.0.1:$netdiag_port" --echo-udp-rate 1000000000 \
  --echo-udp-burst 1000000 --threads 1 --access-log off >"$work/netdiag.log" 2>&1 &
netdiag_pid=$!
pids+=("$netdiag_pid")
reference_port=$(free_udp_port)
taskset -c 0 "$tools/reference_udp_echo" "$reference_port" &
reference_pid=$!
pids+=("$reference_pid")
sleep 0.3

declare -A rates cpus losses
sizes=(64 1400)
for round in $(seq "$rounds"); do
  echo "udp_echo.sh: round $round of $rounds" >&2
  for size in "${sizes[@]}"; do
    for server in "netdiag:$netdiag_port:$netdiag_pid" "reference:$reference_port:$reference_pid"; do
      IFS=: read -r name port pid <<<"$server"
      read -r before _ <<<"$(cpu_ticks "$pid")"
      output=$(taskset -c 1 "$tools/udp_echo_bench" --port "$port" --size "$size" --seconds "$seconds")
      read -r after _ <<<"$(cpu_ticks "$pid")"
      rates[$name|$size]+="$(field datagrams_per_s "$output") "
      losses[$name|$size]+="$(field given_up "$output") "
      cpus[$name|$size]+="$(awk -v t=$((after - before)) -v n="$(field datagrams "$output")" \
        -v hz="$ticks_per_second" 'BEGIN {printf "%.3f", t / hz / (n > 0 ? n : 1e99) * 1e6}') "
    done
  done
done

printf '\n%-22s %7s %14s %10s %9s %11s %11s\n' "UDP echo" size "datagrams/s" "cpu µs/dg" "given up" \
  "rate/ref" "cpu/ref"
for size in "${sizes[@]}"; do
  ref_rate=$(median_of "${rates[reference|$size]}") ref_cpu=$(median_of "${cpus[reference|$size]}")
  for name in netdiag reference; do
    rate=$(median_of "${rates[$name|$size]}") cpu=$(median_of "${cpus[$name|$size]}")
    printf '%-22s %7s %14.0f %10s %9s %11s %11s\n' "$name" "$size" "$rate" "$cpu" \
      "$(median_of "${losses[$name|$size]}")" "$(ratio "$rate" "$ref_rate")" "$(ratio "$cpu" "$ref_cpu")"
  done
done
echo "(medians of $rounds rounds of $seconds s; rates by round: $(for k in "${!rates[@]}"; do printf '%s: %s; ' "$k" "${rates[$k]% }"; done))"
