# Shared by the benchmark scripts in tests/bench (sourced, not run): the
# build, the settings, a scratch directory and the processes to stop on exit,
# and the helpers for ports, CPU time and medians.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$root/build-test}" && pwd)
seconds=${BENCH_SECONDS:-4}
rounds=${BENCH_ROUNDS:-3}
tools="$build/tests"
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
free_udp_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# A process's CPU ticks plus its children's (nginx's worker is the master's
# child): "user+system user".
cpu_ticks() {
  local total=0 user=0 pid utime stime
  for pid in $1 $(pgrep -P "$1" || true); do
    read -r utime stime < <(awk '{print $14, $15}' "/proc/$pid/stat")
    total=$((total + utime + stime)) user=$((user + utime))
  done
  echo "$total $user"
}
ticks_per_second=$(getconf CLK_TCK)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
# median_of "a b c" -> the median of the numbers
median_of() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{v[NR] = $1} END {print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
# field NAME "k=v k=v ..." -> v
field() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k {print $2}'; }
# wrk's latency units ("812.00us", "1.20ms", "2.00s") to milliseconds
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; printf "%.3f", v}'; }
