#!/usr/bin/env bash
# Builds libnodevoy (build/Release/nodevoy.node, the Envoy module) with node-gyp against the headers
# of the Node it embeds (Debian's libnode108), not the Node running the build.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="$(bash scripts/setup-libnode.sh)"
nodedir="$prefix/usr"
[ "$prefix" = "/" ] && nodedir=/usr
# npm's own nodedir setting would otherwise win over the flag.
export npm_config_nodedir="$nodedir"
if [ -f build/Makefile ] && [ -f build/config.gypi ] && grep -q "\"nodedir\": \"$nodedir\"" build/config.gypi; then
  npx --no-install node-gyp build --nodedir="$nodedir" >/dev/null
else
  npx --no-install node-gyp rebuild --nodedir="$nodedir" >/dev/null
fi
echo "built build/Release/nodevoy.node (libnode from $nodedir)" >&2
