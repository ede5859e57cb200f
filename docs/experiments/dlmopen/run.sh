#!/usr/bin/env bash
# The dlmopen experiment of docs/symbol-isolation.md: can libnode run in a separate link-map
# namespace inside a process whose allocator is interposed (Envoy's tcmalloc)? Builds embedder.so
# against the project's libnode (npm run build:native first) and two hosts, then runs each case and
# prints how it ended. Not part of npm test: it documents why dlmopen was ruled out.
set -uo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
prefix="$(bash "$root/scripts/setup-libnode.sh")"
[ "$prefix" = "/" ] && prefix=""
lib="$prefix/usr/lib/x86_64-linux-gnu"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
here="$(dirname "$0")"

g++ -std=c++17 -O1 -fPIC -shared -I"$prefix/usr/include/node" "$here/embedder.cc" -o "$work/embedder.so" \
  -L"$lib" -lnode -Wl,-rpath,"$lib" -w
g++ -std=c++17 -O1 "$here/host.cc" -o "$work/host-tcmalloc" \
  -Wl,--whole-archive /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.a -Wl,--no-whole-archive -ldl -lpthread
g++ -std=c++17 -O1 "$here/host.cc" -o "$work/host-glibc" -ldl -lpthread

outcome() {
  case "$1" in
    0) echo "ok" ;;
    134) echo "ABORTED (SIGABRT)" ;;
    139) echo "CRASHED (SIGSEGV)" ;;
    *) echo "exit $1" ;;
  esac
}
for host in host-glibc host-tcmalloc; do
  for load in dlopen dlmopen; do
    for mode in 0 2 host-thread cross-free; do
      [ "$load" = dlopen ] && [ "$mode" = cross-free ] && continue
      echo "== $host, $load, $mode"
      timeout 60 "$work/$host" "$load" "$work/embedder.so" "$mode" 2>&1 | sed 's/^/  /' | grep -v '^ *$' | head -8
      echo "  -> $(outcome "${PIPESTATUS[0]}")"
    done
  done
done
