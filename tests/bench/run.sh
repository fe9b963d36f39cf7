#!/usr/bin/env bash
# The benchmark suite, on demand (never part of the test suite):
#   ./scripts/dev bench            (installs wrk and nginx-light, builds, runs this)
#   tests/bench/run.sh [BUILD_DIR] (default build-test)
# Servers run on core 0, load generators on core 1 (taskset), each case for
# $BENCH_SECONDS (default 4) seconds, $BENCH_ROUNDS (default 3) times; the
# rounds go through every case in turn, so that a slow spell of a shared
# machine hits the references too, and each figure is the median of its
# rounds. Prints one table; every netdiag figure is also given as a ratio to
# nginx and to a minimal libmicrohttpd server.
set -euo pipefail

# shellcheck source=tests/bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
for tool in wrk nginx taskset; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (./scripts/dev bench installs it)" >&2; exit 2; }
done
ulimit -n "$(ulimit -Hn)"

wait_http() { for _ in $(seq 200); do curl -fs "http://127.0.0.1:$1$2" >/dev/null 2>&1 && return 0; sleep 0.02; done; return 1; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# --- the servers ---------------------------------------------------------------
nginx_port=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx;
  scgi_temp_path $work/nginx;
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      default_type application/json;
      return 200 '{"input":"1234","value":1234,"host_byte_order":"little","uint32":{"value":1234,"ntohl":3523477504,"htonl":3523477504,"host_order_bytes":"d2040000","network_order_bytes":"000004d2"},"uint16":{"value":1234,"ntohs":53764,"htons":53764,"host_order_bytes":"d204","network_order_bytes":"04d2"}}\n';
    }
  }
}
EOF
taskset -c 0 nginx -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
pids+=("$nginx_pid")

minimal_port=$(free_port)
taskset -c 0 "$tools/minimal_mhd" "$minimal_port" 1 &
minimal_pid=$!
pids+=("$minimal_pid")

start_netdiag() { # PORT ACCESS_LOG -> pid in $netdiag_pid
  taskset -c 0 "$build/netdiag" --listen "127.0.0.1:$1" --echo-listen "127.0.0.1:$2" \
    --threads 1 --access-log "$3" >"$work/netdiag-$1.log" 2>&1 &
  netdiag_pid=$!
  pids+=("$netdiag_pid")
}
netdiag_port=$(free_port)
echo_port=$(free_port)
start_netdiag "$netdiag_port" "$echo_port" off
quiet_pid=$netdiag_pid
logged_port=$(free_port)
start_netdiag "$logged_port" "$(free_port)" on
logged_pid=$netdiag_pid
wait_http "$nginx_port" / && wait_http "$minimal_port" / && wait_http "$netdiag_port" /healthz &&
  wait_http "$logged_port" /healthz || { echo "bench: a server did not start" >&2; exit 1; }

# --- one wrk case: prints "req/s p50_ms p99_ms cpu_us user_us" per request -----------
run_case() { # PID URL MODE(keepalive|close)
  local pid=$1 url=$2 mode=$3 header=()
  [ "$mode" = close ] && header=(-H "Connection: close")
  local before before_user after after_user output requests
  read -r before before_user <<<"$(cpu_ticks "$pid")"
  output=$(taskset -c 1 wrk -t1 -c64 -d"${seconds}s" --latency "${header[@]}" "$url" 2>&1)
  read -r after after_user <<<"$(cpu_ticks "$pid")"
  requests=$(echo "$output" | awk '/requests in/ {print $1}')
  local rate p50 p99 errors
  rate=$(echo "$output" | awk '/Requests\/sec/ {printf "%.0f", $2}')
  p50=$(echo "$output" | awk '$1 == "50%" {print $2}' | to_ms)
  p99=$(echo "$output" | awk '$1 == "99%" {print $2}' | to_ms)
  errors=$(echo "$output" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
  local cpu
  cpu=$(awk -v t=$((after - before)) -v u=$((after_user - before_user)) -v n="$requests" \
    -v hz="$ticks_per_second" 'BEGIN {if (n == 0) n = 1e99; printf "%.1f %.2f", t / hz / n * 1e6, u / hz / n * 1e6}')
  echo "$rate $p50 $p99 $cpu ${errors:+!$errors}"
}


# Every case once per round; results[case] collects "rate p50 p99 cpu user errors" lines.
declare -A results
cases=()
for mode in keepalive close; do
  cases+=("$mode|nginx (return 200)|$nginx_pid|http://127.0.0.1:$nginx_port/")
  cases+=("$mode|minimal libmicrohttpd|$minimal_pid|http://127.0.0.1:$minimal_port/")
  for target in "/byteorder?value=1234" "/convert?ip=192.168.0.111" "/service?port=80"; do
    cases+=("$mode|netdiag $target log=off|$quiet_pid|http://127.0.0.1:$netdiag_port$target")
    cases+=("$mode|netdiag $target log=on|$logged_pid|http://127.0.0.1:$logged_port$target")
  done
done
for round in $(seq "$rounds"); do
  echo "bench: round $round of $rounds" >&2
  for entry in "${cases[@]}"; do
    IFS='|' read -r mode name pid url <<<"$entry"
    results[$mode|$name]+="$(run_case "$pid" "$url" "$mode")"$'\n'
  done
done
# medians CASE -> "rate p50 p99 cpu user errors" (errors: any round's)
medians() {
  local lines=${results[$1]} column out=""
  for column in 1 2 3 4 5; do
    out+="$(median_of "$(awk -v c=$column '{printf "%s ", $c}' <<<"$lines")") "
  done
  echo "$out$(awk '$6 != "" {for (i = 6; i <= NF; i++) printf "%s ", $i}' <<<"$lines")"
}

printf '\n%-42s %-9s %9s %8s %8s %9s %9s %9s %9s %9s %9s\n' case mode "req/s" "p50 ms" "p99 ms" \
  "cpu µs/r" "user µs/r" "rps/nginx" "rps/mhd" "cpu/mhd" "cpu/nginx"
for mode in keepalive close; do
  read -r n_rate n_p50 n_p99 n_cpu n_user _ <<<"$(medians "$mode|nginx (return 200)")"
  printf '%-42s %-9s %9.0f %8s %8s %9s %9s\n' "nginx (return 200)" "$mode" "$n_rate" "$n_p50" "$n_p99" \
    "$n_cpu" "$n_user"
  read -r m_rate m_p50 m_p99 m_cpu m_user _ <<<"$(medians "$mode|minimal libmicrohttpd")"
  printf '%-42s %-9s %9.0f %8s %8s %9s %9s\n' "minimal libmicrohttpd" "$mode" "$m_rate" "$m_p50" "$m_p99" \
    "$m_cpu" "$m_user"
  for target in "/byteorder?value=1234" "/convert?ip=192.168.0.111" "/service?port=80"; do
    for log in off on; do
      read -r rate p50 p99 cpu user errors <<<"$(medians "$mode|netdiag $target log=$log")"
      printf '%-42s %-9s %9.0f %8s %8s %9s %9s %9s %9s %9s %9s %s\n' "netdiag $target log=$log" "$mode" \
        "$rate" "$p50" "$p99" "$cpu" "$user" "$(ratio "$rate" "$n_rate")" "$(ratio "$rate" "$m_rate")" \
        "$(ratio "$cpu" "$m_cpu")" "$(ratio "$cpu" "$n_cpu")" "${errors:-}"
    done
  done
done

# --- HTTPS: keep-alive over TLS 1.3, netdiag beside nginx with the same certificate ---
certificates="$build/tests/certificates"
"$root/tests/tools/make-certificates.sh" "$certificates"
tls_nginx_port=$(free_port)
mkdir -p "$work/nginx-tls"
cat >"$work/nginx-tls/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx-tls/nginx.pid;
error_log $work/nginx-tls/error.log;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path $work/nginx-tls;
  proxy_temp_path $work/nginx-tls;
  fastcgi_temp_path $work/nginx-tls;
  uwsgi_temp_path $work/nginx-tls;
  scgi_temp_path $work/nginx-tls;
  server {
    listen 127.0.0.1:$tls_nginx_port ssl;
    ssl_certificate $certificates/leaf.pem;
    ssl_certificate_key $certificates/leaf-key.pem;
    ssl_protocols TLSv1.3;
    location / {
      default_type application/json;
      return 200 '{"input":"1234","value":1234,"host_byte_order":"little","uint32":{"value":1234,"ntohl":3523477504,"htonl":3523477504,"host_order_bytes":"d2040000","network_order_bytes":"000004d2"},"uint16":{"value":1234,"ntohs":53764,"htons":53764,"host_order_bytes":"d204","network_order_bytes":"04d2"}}\n';
    }
  }
}
EOF
taskset -c 0 nginx -c "$work/nginx-tls/nginx.conf" -e "$work/nginx-tls/error.log" &
tls_nginx_pid=$!
pids+=("$tls_nginx_pid")
tls_port=$(free_port)
taskset -c 0 "$build/netdiag" --listen "127.0.0.1:$tls_port" --echo-listen off --threads 1 \
  --access-log off --tls-cert "$certificates/leaf.pem" --tls-key "$certificates/leaf-key.pem" \
  >"$work/netdiag-tls.log" 2>&1 &
tls_pid=$!
pids+=("$tls_pid")
for _ in $(seq 200); do
  curl -fsk "https://127.0.0.1:$tls_port/healthz" >/dev/null 2>&1 &&
    curl -fsk "https://127.0.0.1:$tls_nginx_port/" >/dev/null 2>&1 && break
  sleep 0.02
done
tls_results_nginx="" tls_results_netdiag=""
for _ in $(seq "$rounds"); do
  tls_results_nginx+="$(run_case "$tls_nginx_pid" "https://127.0.0.1:$tls_nginx_port/" keepalive)"$'\n'
  tls_results_netdiag+="$(run_case "$tls_pid" "https://127.0.0.1:$tls_port/byteorder?value=1234" keepalive)"$'\n'
done
column_median() { median_of "$(awk -v c="$2" '{printf "%s ", $c}' <<<"$1")"; }
tls_n_rate=$(column_median "$tls_results_nginx" 1) tls_n_cpu=$(column_median "$tls_results_nginx" 4)
tls_rate=$(column_median "$tls_results_netdiag" 1) tls_cpu=$(column_median "$tls_results_netdiag" 4)
echo
echo "https keep-alive (TLS 1.3, 64 connections): nginx $tls_n_rate req/s at $tls_n_cpu µs CPU/r;" \
  "netdiag /byteorder $tls_rate req/s at $tls_cpu µs CPU/r; ratios: req/s $(ratio "$tls_rate" "$tls_n_rate")," \
  "CPU/r $(ratio "$tls_cpu" "$tls_n_cpu") (medians of $rounds rounds)"

# --- isolation: the same fast load while 64 SNTP requests wait on a silent port --------
silent_port_file="$work/silent.port"
"$tools/fake_ntp_server" --port-file "$silent_port_file" --mode silent --max-seconds 120 2>/dev/null &
pids+=("$!")
for _ in $(seq 100); do [ -s "$silent_port_file" ] && break; sleep 0.02; done
silent_port=$(cat "$silent_port_file")
fast_url="http://127.0.0.1:$netdiag_port/byteorder?value=1234"
base_rates="" base_p99s="" busy_rates="" busy_p99s=""
# Alone, then with the SNTP waits (at most 10 s each, so renewed every round),
# all held by one process (64 curl processes would crowd wrk's core).
for _ in $(seq "$rounds"); do
  read -r rate _ p99 _ <<<"$(run_case "$quiet_pid" "$fast_url" keepalive)"
  base_rates+="$rate " base_p99s+="$p99 "
  taskset -c 1 "$tools/hold" "$netdiag_port" 64 $((seconds + 2)) wait \
    "/time/sntp?server=127.0.0.1:$silent_port&timeout_ms=$(((seconds + 2) * 1000))" >/dev/null &
  pids+=("$!")
  sleep 0.5
  read -r rate _ p99 _ <<<"$(run_case "$quiet_pid" "$fast_url" keepalive)"
  busy_rates+="$rate " busy_p99s+="$p99 "
  waiting=$(curl -s "http://127.0.0.1:$netdiag_port/metrics" | awk '$1 == "netdiag_slow_requests_waiting" {print $2}')
  sleep 2 # let them time out
done
base_rate=$(median_of "$base_rates") base_p99=$(median_of "$base_p99s")
busy_rate=$(median_of "$busy_rates") busy_p99=$(median_of "$busy_p99s")
echo
echo "isolation: /byteorder keep-alive p99 ${base_p99} ms alone, ${busy_p99} ms with ${waiting} SNTP requests waiting" \
  "(change $(awk -v a="$busy_p99" -v b="$base_p99" 'BEGIN {printf "%+.0f%%", (b > 0 ? (a - b) / b * 100 : 0)}'));" \
  "req/s ${base_rate} -> ${busy_rate} (medians of $rounds rounds; p99 by round: alone ${base_p99s% }, waiting ${busy_p99s% })"

# --- /connect: 1,000 probes in flight to a listener that never answers --------------
silent_tcp_port=$(free_port)
python3 -c "
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $silent_tcp_port)); s.listen(4096); time.sleep(600)" &
pids+=("$!")
probe_port=$(free_port)
taskset -c 0 "$build/netdiag" --listen "127.0.0.1:$probe_port" --echo-listen off --threads 1 \
  --access-log off --slow-max-waiting 2000 >"$work/netdiag-probes.log" 2>&1 &
probe_pid=$!
pids+=("$probe_pid")
wait_http "$probe_port" /healthz
fast_probe_url="http://127.0.0.1:$probe_port/byteorder?value=1234"
probe_alone_p99s="" probe_busy_p99s="" probe_rss_growth=""
for _ in $(seq "$rounds"); do
  read -r _ _ p99 _ <<<"$(run_case "$probe_pid" "$fast_probe_url" keepalive)"
  probe_alone_p99s+="$p99 "
  rss_before=$(rss_kib "$probe_pid")
  taskset -c 1 "$tools/hold" "$probe_port" 1000 $((seconds + 4)) wait \
    "/connect?host=127.0.0.1&port=$silent_tcp_port&send=x&timeout_ms=$(((seconds + 3) * 1000))" >/dev/null &
  pids+=("$!")
  for _ in $(seq 100); do
    waiting=$(curl -s "http://127.0.0.1:$probe_port/metrics" | awk '$1 == "netdiag_slow_requests_waiting" {print $2}')
    [ "${waiting:-0}" -ge 1000 ] && break
    sleep 0.1
  done
  read -r _ _ p99 _ <<<"$(run_case "$probe_pid" "$fast_probe_url" keepalive)"
  probe_busy_p99s+="$p99 "
  probe_rss_growth+="$(($(rss_kib "$probe_pid") - rss_before)) "
  sleep 4 # the probes time out
done
echo
echo "/connect: ${waiting} probes in flight to a silent listener: RSS growth ${probe_rss_growth% } KiB;" \
  "/byteorder p99 $(median_of "$probe_alone_p99s") ms alone, $(median_of "$probe_busy_p99s") ms with them" \
  "(change $(awk -v a="$(median_of "$probe_busy_p99s")" -v b="$(median_of "$probe_alone_p99s")" 'BEGIN {printf "%+.0f%%", (b > 0 ? (a - b) / b * 100 : 0)}'))"

# --- echo: netdiag against a reference epoll echo ---------------------------------
reference_port=$(free_port)
taskset -c 0 "$tools/reference_echo" "$reference_port" &
pids+=("$!")
sleep 0.2
echo
declare -A echo_figures
for _ in $(seq "$rounds"); do
  for server in "netdiag:$echo_port" "reference:$reference_port"; do
    name=${server%%:*} port=${server##*:}
    bulk=$(taskset -c 1 "$tools/echo_bench" --port "$port" --mode bulk --connections 8 --bytes $((64 << 20)))
    ping=$(taskset -c 1 "$tools/echo_bench" --port "$port" --mode pingpong --connections 100 --rounds 1000 --size 64)
    echo_figures[$name|mbs]+="$(field MB_per_s "$bulk") "
    echo_figures[$name|p50]+="$(field p50_us "$ping") "
    echo_figures[$name|p99]+="$(field p99_us "$ping") "
  done
done
for name in netdiag reference; do
  echo "echo $name: bulk 8 connections x 64 MiB, every byte checked: $(median_of "${echo_figures[$name|mbs]}") MB/s;" \
    "ping-pong 100 connections x 1000 x 64 B: p50 $(median_of "${echo_figures[$name|p50]}") µs," \
    "p99 $(median_of "${echo_figures[$name|p99]}") µs (medians of $rounds rounds)"
done
echo "echo ratios: bulk $(ratio "$(median_of "${echo_figures[netdiag|mbs]}")" "$(median_of "${echo_figures[reference|mbs]}")")," \
  "ping-pong p99 $(ratio "$(median_of "${echo_figures[netdiag|p99]}")" "$(median_of "${echo_figures[reference|p99]}")")"

# --- scale: 10,000 idle keep-alive HTTP and 10,000 echo connections ---------------
# 10,000 of each, or as many as the hard limit on descriptors allows one process.
hard_limit=$(ulimit -Hn)
scale=${BENCH_SCALE:-$(((hard_limit - 200) / 2 < 10000 ? (hard_limit - 200) / 2 : 10000))}
taskset -c 1 "$tools/hold" "$netdiag_port" "$scale" 20 http >"$work/hold-http" &
pids+=("$!")
taskset -c 1 "$tools/hold" "$echo_port" "$scale" 20 >"$work/hold-echo" &
pids+=("$!")
for _ in $(seq 300); do [ -s "$work/hold-http" ] && [ -s "$work/hold-echo" ] && break; sleep 0.1; done
served=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "http://127.0.0.1:$netdiag_port/byteorder?value=1234")
echo "scale: $(cat "$work/hold-http") HTTP + $(cat "$work/hold-echo") echo connections held;" \
  "a new request: ${served% *} in ${served#* } s; RSS $(rss_kib "$quiet_pid") KiB"

# --- process figures ----------------------------------------------------------------
idle_port=$(free_port)
"$build/netdiag" --listen "127.0.0.1:$idle_port" --echo-listen off --threads 1 >/dev/null 2>&1 &
idle_pid=$!
pids+=("$idle_pid")
wait_http "$idle_port" /healthz
sleep 0.5
echo
echo "idle RSS: $(rss_kib "$idle_pid") KiB (--threads 1, echo off)"
startup_runs=""
for _ in 1 2 3 4 5; do startup_runs+="$("$tools/startup" "$build/netdiag" "$(free_port)") "; done
echo "exec to first 200 on /healthz: ${startup_runs}ms"

# --- /dns: 1,000 queries in flight (tests/bench/dns.sh) ---------------------------
echo
"$root/tests/bench/dns.sh" "$build"

# --- the fleet view: 50 pods probing each other (tests/bench/fleet.sh) ------------
echo
"$root/tests/bench/fleet.sh" "$build"

# --- the UDP echo beside its reference ------------------------------------------------
echo
"$root/tests/bench/udp_echo.sh" "$build"
