#!/usr/bin/env bash
# Builds and runs the shared-store microbenchmark (ns per operation, one thread vs two contending).
set -euo pipefail
cd "$(dirname "$0")/.."
out=out/bench
mkdir -p "$out"
g++ -std=c++20 -O2 -Ihost/module bench/shared_store_bench.cc host/module/shared_store.cc -o "$out/shared_store_bench" -pthread
"$out/shared_store_bench" "${1:-2000000}"
