#!/usr/bin/env bash
# Runs libnodevoy's suites on the runtimes this Debian 12 host cannot run itself (`npm test` covers
# Node 18 on the host). As root (debootstrap, chroot): builds libnodevoy for each runtime on this host,
# makes the Debian roots that ship their libnode (scripts/runtime-root.sh, cached per user), then
#   node24: the libnodevoy, SDK/CLI, dev host, conformance and example suites, in a Debian sid root
#   node20: load + symbol isolation + basic-auth, in a Debian 13 trixie root
#   node22: the same, with sid's libnode127, in the sid root
# NODEVOY_TEST_RUNTIMES (default "node24,node20,node22") picks which; each prints its time.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "test-runtimes: needs root (debootstrap, chroot, mounts)" >&2; exit 1; }
full_suite=(test/module test/examples test/devhost test/conformance test/cli test/unit test/versions/libnodevoy.test.ts)
smoke_suite=(test/module/isolation.test.ts test/module/basic-auth.test.ts test/devhost/load.test.ts)
IFS=, read -r -a runtimes <<<"${NODEVOY_TEST_RUNTIMES:-node24,node20,node22}"
failed=()
for runtime in "${runtimes[@]}"; do
  started=$SECONDS
  bash scripts/build-module.sh --runtime "$runtime"
  echo "test-runtimes: $runtime: libnodevoy built in $((SECONDS - started)) s" >&2
  started=$SECONDS
  bash scripts/runtime-root.sh make "$runtime" >/dev/null
  echo "test-runtimes: $runtime: root ready in $((SECONDS - started)) s" >&2
  if [ "$runtime" = node24 ]; then suite=("${full_suite[@]}"); else suite=("${smoke_suite[@]}"); fi
  started=$SECONDS
  echo "test-runtimes: $runtime: tap ${suite[*]}" >&2
  if bash scripts/runtime-root.sh run "$runtime" node_modules/.bin/tap "${suite[@]}"; then
    echo "test-runtimes: $runtime: passed in $((SECONDS - started)) s" >&2
  else
    echo "test-runtimes: $runtime: FAILED after $((SECONDS - started)) s" >&2
    failed+=("$runtime")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "test-runtimes: failed on ${failed[*]}" >&2
  exit 1
fi
echo "test-runtimes: passed on ${runtimes[*]}" >&2
