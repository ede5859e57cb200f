#!/usr/bin/env bash
# Builds and runs the hook-crossing microbenchmark for a no-op TS filter and the basic-auth example
# (the full set of crossings is part of `npm run bench`: bench/micro.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
out=out/bench
mkdir -p "$out"
g++ -std=c++17 -O2 -rdynamic -Ihost/abi bench/hook_crossing.cc -o "$out/hook_crossing" -ldl
npx --no-install tsx bench/bundle-bench-filters.ts "$out"
prefix="$(bash scripts/setup-libnode.sh)"
export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
n="${1:-200000}"
module="$PWD/build/Release/nodevoy.node"
"$out/hook_crossing" --module "$module" --bundle "$PWD/$out/noop.js" --filter noop --mode same-stream --iterations "$n"
"$out/hook_crossing" --module "$module" --bundle "$PWD/$out/noop.js" --filter noop --mode stream --iterations "$n"
"$out/hook_crossing" --module "$module" --bundle "$PWD/$out/noop.js" --filter noop --mode stream --keep --iterations "$n"
"$out/hook_crossing" --module "$module" --bundle "$PWD/$out/noop-class.js" --filter noop-class --mode stream --iterations "$n"
"$out/hook_crossing" --module "$module" --bundle "$PWD/$out/basic-auth.js" --filter basic-auth --mode stream --iterations "$n"
