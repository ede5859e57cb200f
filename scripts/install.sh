#!/usr/bin/env bash
# npm install hook. With a prebuilt libnodevoy for this platform there is nothing to do. Without one:
# PREBUILDS_ONLY=1 fails the install; NODEVOY_BUILD_FROM_SOURCE=1 builds it (Debian 12: installs build
# packages with apt); otherwise it only warns, because writing and type-checking filters works
# anywhere and the CLI says what is missing when it needs the native parts.
set -u
cd "$(dirname "$0")/.."
if node -e "require('node-gyp-build').path('.')" >/dev/null 2>&1; then exit 0; fi
platform="$(node -p 'process.platform + "-" + process.arch')"
if [ "${PREBUILDS_ONLY:-}" = "1" ]; then
  echo "nodevoy: no prebuilt libnodevoy for $platform (PREBUILDS_ONLY=1); nodevoy runs on linux-x64 with glibc" >&2
  exit 1
fi
if [ "${NODEVOY_BUILD_FROM_SOURCE:-}" = "1" ]; then
  exec bash scripts/build-module.sh
fi
echo "nodevoy: no prebuilt libnodevoy for $platform; \`nodevoy build\` and \`nodevoy dev\` need it." >&2
echo "  On Debian 12 x64, build it with NODEVOY_BUILD_FROM_SOURCE=1 npm install nodevoy (needs g++, make, apt)." >&2
exit 0
