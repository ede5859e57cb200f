#!/usr/bin/env bash
# Makes Node 18's embedding library (Debian 12 libnode108 + libnode-dev) and what it needs at run time
# available to the build. Debian's libnode108 conflicts with a distribution/NodeSource `nodejs`
# package, so when it cannot be installed normally it is downloaded and extracted into a
# project-local prefix (.deps/libnode). The externalized builtins that libnode loads from fixed
# paths (/usr/share/nodejs/{acorn,acorn-walk,cjs-module-lexer,undici}) install normally.
# Idempotent: quick when everything is already in place. Prints the prefix on success.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="$root/.deps/libnode"
stamp="$prefix/.complete"
version_wanted="18.20"

runtime_packages=(libuv1 libc-ares2 libbrotli1 libnghttp2-14 libicu72 libssl3 zlib1g
                  node-acorn node-cjs-module-lexer node-undici libuv1-dev)

die() { echo "setup-libnode: $*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    die "need root to run: $* (run this script as root, or install the packages yourself)"
  fi
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

command -v dpkg-query >/dev/null || die "this script needs Debian's dpkg/apt (Debian 12); on other systems install Node 18's libnode (libnode.so.108) and its headers and set NODEVOY_LIBNODE_PREFIX"

# 1. Runtime dependencies and the externalized builtins.
missing=()
for p in "${runtime_packages[@]}"; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-libnode: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    as_root apt-get update -qq || die "apt-get update failed (is Debian's archive reachable?)"
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
      die "could not install ${missing[*]}"
  fi
fi
for builtin in acorn acorn-walk cjs-module-lexer undici; do
  [ -e "/usr/share/nodejs/$builtin" ] || die "/usr/share/nodejs/$builtin is missing after installing node-acorn, node-cjs-module-lexer and node-undici; libnode cannot create an environment without it"
done

# 2. The library and headers: the system's if libnode108/libnode-dev are installed, else a local copy.
if installed libnode108 && installed libnode-dev; then
  echo "/"
  exit 0
fi
if [ -f "$stamp" ] && [ -e "$prefix/usr/lib/x86_64-linux-gnu/libnode.so.108" ] && [ -e "$prefix/usr/include/node/node.h" ]; then
  echo "$prefix"
  exit 0
fi
command -v apt-get >/dev/null || die "apt-get not found"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 777 "$work"  # apt's _apt user downloads into it
(cd "$work" && apt-get download libnode108 libnode-dev >/dev/null 2>&1) || {
  as_root apt-get update -qq >/dev/null 2>&1 || true
  (cd "$work" && apt-get download libnode108 libnode-dev >/dev/null 2>&1) ||
    die "could not download libnode108 and libnode-dev from Debian's archive"
}
rm -rf "$prefix"
mkdir -p "$prefix"
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$prefix"; done
version="$(dpkg-deb -f "$work"/libnode108_*.deb Version)"
case "$version" in "$version_wanted"*) ;; *) die "expected libnode $version_wanted.x, got $version" ;; esac
# The dev package's unversioned symlink points at the versioned library; keep both inside the prefix.
ln -sf libnode.so.108 "$prefix/usr/lib/x86_64-linux-gnu/libnode.so"
echo "$version" > "$stamp"
echo "setup-libnode: extracted libnode $version into $prefix" >&2
echo "$prefix"
