#!/usr/bin/env bash
# Builds libnodevoy (the Envoy module) with node-gyp against the headers of the Node it embeds, not
# the Node running the build.
#   build-module.sh                      Node 18 (Debian 12's libnode108): build/Release/nodevoy.node
#   build-module.sh --runtime <name>     node20/node22/node24 (headers and libnode from
#                                        setup-runtime-headers.sh): out/runtimes/<name>/nodevoy.node
#   build-module.sh [--runtime <name>] --print-nodedir   only print that runtime's header directory
# One source tree serves every runtime: what differs between Node/V8 versions is in
# host/module/node_compat.h.
set -euo pipefail
cd "$(dirname "$0")/.."
runtime=node18
print_nodedir=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runtime) runtime="${2:?--runtime needs a name: node18, node20, node22 or node24}"; shift 2 ;;
    --print-nodedir) print_nodedir=1; shift ;;
    *) echo "build-module.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ "$runtime" = node18 ]; then
  prefix="$(bash scripts/setup-libnode.sh)"
else
  prefix="$(bash scripts/setup-runtime-headers.sh "$runtime")"
fi
nodedir="$prefix/usr"
[ "$prefix" = "/" ] && nodedir=/usr
if [ "$print_nodedir" = 1 ]; then
  echo "$nodedir"
  exit 0
fi
# npm's own nodedir setting would otherwise win over the flag.
export npm_config_nodedir="$nodedir"
# node-gyp: the project's, npm's own (inside an npm lifecycle script), or fetched from the registry.
if [ -x node_modules/.bin/node-gyp ]; then
  node_gyp=("$PWD/node_modules/.bin/node-gyp")
elif [ -n "${npm_config_node_gyp:-}" ]; then
  node_gyp=(node "$npm_config_node_gyp")
else
  node_gyp=(npx --yes node-gyp@11)
fi
gyp_args=()
if [ "$runtime" != node18 ]; then
  # node-gyp writes ./build: each other runtime builds in its own directory that mirrors the sources.
  stage="out/runtime-build/$runtime"
  mkdir -p "$stage"
  for entry in binding.gyp host scripts node_modules; do ln -sfn "$PWD/$entry" "$stage/$entry"; done
  cd "$stage"
  gyp_args=(-- "-Dlibnode_prefix=$prefix")
fi
if [ -f build/Makefile ] && [ -f build/config.gypi ] && grep -q "\"nodedir\": \"$nodedir\"" build/config.gypi; then
  "${node_gyp[@]}" build -j 2 --nodedir="$nodedir" >/dev/null
else
  "${node_gyp[@]}" rebuild -j 2 --nodedir="$nodedir" "${gyp_args[@]}" >/dev/null
fi
if [ "$runtime" = node18 ]; then
  echo "built build/Release/nodevoy.node (Node 18, libnode from $nodedir)" >&2
else
  cd - >/dev/null
  mkdir -p "out/runtimes/$runtime"
  cp "$stage/build/Release/nodevoy.node" "out/runtimes/$runtime/nodevoy.node"
  echo "built out/runtimes/$runtime/nodevoy.node ($runtime, libnode from $nodedir)" >&2
fi
