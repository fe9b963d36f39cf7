#!/usr/bin/env bash
# Runs every libFuzzer target from its seed corpus.
#   tests/fuzz/run.sh BUILD_DIR [RUNS]          bounded: RUNS inputs each (CI: 20000)
#   tests/fuzz/run.sh BUILD_DIR 0 SECONDS       longer: SECONDS of fuzzing each
# BUILD_DIR is a build made with CC=clang -DNETDIAG_FUZZ=ON (./scripts/dev fuzz makes one).
# New inputs stay in a scratch copy of the corpus; a crash leaves its input in
# BUILD_DIR/fuzz-artifacts/ and fails the run: add it to tests/fuzz/corpus/<target>/
# once fixed, so it stays a regression case.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(cd "$1" && pwd)
runs=${2:-20000}
seconds=${3:-0}
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"
failed=0
passed=0
for target in "$build"/tests/fuzz/fuzz_*; do
  [ -x "$target" ] || continue
  name=$(basename "$target")
  corpus_name=${name#fuzz_}
  scratch=$(mktemp -d)
  cp -r "$here/corpus/$corpus_name/." "$scratch/"
  limits=(-runs="$runs")
  [ "$seconds" -gt 0 ] && limits=(-max_total_time="$seconds")
  if "$target" "${limits[@]}" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$name-" "$scratch" >"$build/$name.log" 2>&1; then
    echo "fuzz: ok   $name ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$build/$name.log" | awk '{print $2}' || true) runs)"
    passed=$((passed + 1))
  else
    echo "fuzz: FAIL $name (see $build/$name.log)"
    tail -n 30 "$build/$name.log"
    failed=$((failed + 1))
  fi
  rm -rf "$scratch"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
