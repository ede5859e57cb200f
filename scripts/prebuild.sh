#!/usr/bin/env bash
# npm run prebuild: puts libnodevoy (built against the headers of the Node it embeds) and the dev host
# into prebuilds/linux-x64/, where node-gyp-build (and `nodevoy build`, `nodevoy dev`) find them in
# the published package: Node 18's as prebuilds/linux-x64/nodevoy.node (node-gyp-build's place), each
# other runtime's as prebuilds/linux-x64/<runtime>/nodevoy.node (`nodevoy build --runtime <runtime>`).
# All are the local builds, stripped: nothing is compiled twice.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-module.sh
make -C host -j2 ../out/nodevoy-devhost >/dev/null
mkdir -p prebuilds/linux-x64
# The dev host ships too (`nodevoy dev`, nodevoy/devhost): statically linked but for glibc and libstdc++.
cp build/Release/nodevoy.node prebuilds/linux-x64/nodevoy.node
cp out/nodevoy-devhost prebuilds/linux-x64/nodevoy-devhost
strip prebuilds/linux-x64/nodevoy.node prebuilds/linux-x64/nodevoy-devhost
for runtime in node20 node22 node24; do
  bash scripts/build-module.sh --runtime "$runtime"
  mkdir -p "prebuilds/linux-x64/$runtime"
  cp "out/runtimes/$runtime/nodevoy.node" "prebuilds/linux-x64/$runtime/nodevoy.node"
  strip "prebuilds/linux-x64/$runtime/nodevoy.node"
done
ls -lR prebuilds/linux-x64/
