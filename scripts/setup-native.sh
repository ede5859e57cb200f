#!/usr/bin/env bash
# Makes the native build dependencies available (Debian 12): the libraries the dev host and the C
# modules build against. Idempotent and quick when everything is already installed.
set -euo pipefail

packages=(
  g++ make pkg-config
  libevent-dev         # event loop (as Envoy's dispatcher)
  libhttp-parser-dev   # HTTP/1.1 parsing
  libyaml-cpp-dev      # bootstrap YAML
  nlohmann-json3-dev   # JSON (Struct filter configs, admin)
  libtclap-dev         # command-line parsing (as Envoy's)
  libgoogle-perftools-dev  # tcmalloc, linked into the dev host like Envoy's allocator
  libcjson-dev         # JSON in the C reference modules
  libgtest-dev         # C++ unit tests (host/tests)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup-native: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "setup-native: these Debian packages are missing and this user cannot install them: ${missing[*]}" >&2
    echo "  run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
