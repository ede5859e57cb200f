#!/usr/bin/env bash
# Compares the runtimes libnodevoy embeds on the same benchmarks: the first request on a fresh worker
# vs steady state (bench/first-request.ts) and memory per worker environment (bench/memory.ts), with
# the TS basic-auth filter through the dev host. Node 18 runs on this Debian 12 host, the others in
# their debootstrapped roots (scripts/runtime-root.sh: as root; libnodevoy built by
# `npm run build:runtimes`). Prints each runtime's figures and the ratios to Node 18.
# Usage: bash bench/runtimes.sh [runtimes, default node18,node20,node22,node24] [first-request runs, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
IFS=, read -r -a runtimes <<<"${1:-node18,node20,node22,node24}"
runs="${2:-5}"
declare -A first steady perworker
for runtime in "${runtimes[@]}"; do
  run=(env NODEVOY_RUNTIME="$runtime")
  [ "$runtime" = node18 ] || run=(bash scripts/runtime-root.sh run "$runtime" env NODEVOY_RUNTIME="$runtime")
  out="$("${run[@]}" node_modules/.bin/tsx bench/first-request.ts "$runs")"
  mem="$("${run[@]}" node_modules/.bin/tsx bench/memory.ts)"
  echo "== $runtime"; echo "$out"; echo "$mem"
  first[$runtime]="$(sed -n 's/^first request on a fresh worker: median \([0-9.]*\) ms.*/\1/p' <<<"$out")"
  steady[$runtime]="$(sed -n 's/^steady state (median of 200 per start): \([0-9.]*\) ms.*/\1/p' <<<"$out")"
  perworker[$runtime]="$(sed -n 's/^per additional worker environment: \([0-9.]*\) MB/\1/p' <<<"$mem")"
done
base="${runtimes[0]}"
echo
printf '%-8s %22s %22s %26s\n' runtime "first request (ms)" "steady request (ms)" "per worker env (MB)"
for runtime in "${runtimes[@]}"; do
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
  printf '%-8s %12s (%7s) %12s (%7s) %14s (%9s)\n' "$runtime" \
    "${first[$runtime]}" "$(ratio "${first[$runtime]}" "${first[$base]}")" \
    "${steady[$runtime]}" "$(ratio "${steady[$runtime]}" "${steady[$base]}")" \
    "${perworker[$runtime]}" "$(ratio "${perworker[$runtime]}" "${perworker[$base]}")"
done
echo "(ratios to $base)"
