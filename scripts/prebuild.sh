#!/usr/bin/env bash
# npm run prebuild: builds libnodevoy with prebuildify into prebuilds/linux-x64/nodevoy.node, where
# node-gyp-build (and `nodevoy build`) find it, against the headers of the Node it embeds.
set -euo pipefail
cd "$(dirname "$0")/.."
export npm_config_nodedir="$(bash scripts/build-module.sh --print-nodedir)"
npx --no-install prebuildify --napi --strip
# The dev host ships too (`nodevoy dev`, nodevoy/testing): statically linked but for glibc and libstdc++.
make -C host -j2 ../out/nodevoy-devhost >/dev/null
cp out/nodevoy-devhost prebuilds/linux-x64/nodevoy-devhost
strip prebuilds/linux-x64/nodevoy-devhost
# prebuildify moves build/Release/nodevoy.node; rebuild it so local runs keep using a fresh build.
bash scripts/build-module.sh
ls -l prebuilds/linux-x64/
