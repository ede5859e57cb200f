#!/usr/bin/env bash
# Builds and runs the hook-crossing microbenchmark for a no-op TS filter and the basic-auth example.
set -euo pipefail
cd "$(dirname "$0")/.."
out=out/bench
mkdir -p "$out"
g++ -std=c++17 -O2 -rdynamic -Ihost/abi bench/hook_crossing.cc -o "$out/hook_crossing" -ldl
npx --no-install tsx bench/bundle-bench-filters.ts "$out"
prefix="$(bash scripts/setup-libnode.sh)"
export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$out/hook_crossing" "$PWD/build/Release/nodevoy.node" "$PWD/$out/noop.js" noop "${1:-1000000}"
"$out/hook_crossing" "$PWD/build/Release/nodevoy.node" "$PWD/$out/noop-class.js" noop-class "${1:-1000000}"
"$out/hook_crossing" "$PWD/build/Release/nodevoy.node" "$PWD/$out/basic-auth.js" basic-auth "${1:-1000000}"
