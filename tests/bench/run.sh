#!/usr/bin/env bash
# Benchmarks, on demand (not part of the test suite):
#   tests/bench/run.sh [BUILD_DIR]     (default: build-test, as made by ./scripts/dev test)
# The server runs on core 0 and the load generator on core 1 (taskset), each
# case for a bounded time. Prints one line per case.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build-test}
binary="$build/netdiag"
bench="$build/tests/echo_bench"
[ -x "$binary" ] && [ -x "$bench" ] || { echo "build first: ./scripts/dev test" >&2; exit 2; }

log=$(mktemp)
trap 'kill "$server" 2>/dev/null || true; wait 2>/dev/null || true; rm -f "$log"' EXIT
taskset -c 0 "$binary" --listen 127.0.0.1:0 --echo-listen 127.0.0.1:0 --access-log off >"$log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q 'event=listening' "$log" && break; sleep 0.05; done
echo_port=$(sed -n 's/.* echo=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -n 1)
[ -n "$echo_port" ] || { cat "$log" >&2; exit 1; }

echo "== echo listener (server on core 0, client on core 1)"
taskset -c 1 timeout 120 "$bench" --port "$echo_port" --mode bulk --connections 8 --bytes $((64 << 20))
taskset -c 1 timeout 120 "$bench" --port "$echo_port" --mode pingpong --connections 100 --rounds 1000 --size 64
echo "server RSS after the run: $(awk '/VmRSS/ {print $2, $3}' /proc/$server/status)"
