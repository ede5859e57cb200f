#!/usr/bin/env bash
# Builds libnodevoy (build/Release/nodevoy.node, the Envoy module) with node-gyp against the headers
# of the Node it embeds (Debian's libnode108), not the Node running the build.
# --print-nodedir: only print that header directory (after making libnode available).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="$(bash scripts/setup-libnode.sh)"
nodedir="$prefix/usr"
[ "$prefix" = "/" ] && nodedir=/usr
if [ "${1:-}" = "--print-nodedir" ]; then
  echo "$nodedir"
  exit 0
fi
# npm's own nodedir setting would otherwise win over the flag.
export npm_config_nodedir="$nodedir"
# node-gyp: the project's, npm's own (inside an npm lifecycle script), or fetched from the registry.
if [ -x node_modules/.bin/node-gyp ]; then
  node_gyp=(node_modules/.bin/node-gyp)
elif [ -n "${npm_config_node_gyp:-}" ]; then
  node_gyp=(node "$npm_config_node_gyp")
else
  node_gyp=(npx --yes node-gyp@11)
fi
if [ -f build/Makefile ] && [ -f build/config.gypi ] && grep -q "\"nodedir\": \"$nodedir\"" build/config.gypi; then
  "${node_gyp[@]}" build --nodedir="$nodedir" >/dev/null
else
  "${node_gyp[@]}" rebuild --nodedir="$nodedir" >/dev/null
fi
echo "built build/Release/nodevoy.node (libnode from $nodedir)" >&2
