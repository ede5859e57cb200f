#!/usr/bin/env bash
# Makes Node 18's embedding library (Debian 12 libnode108 + libnode-dev) and what it needs at run time
# available to the dev host and to source builds. Debian's libnode108 conflicts with a distribution
# or NodeSource `nodejs` package, so when it is not installed it is downloaded (no root needed) and
# extracted into a per-user cache shared by every project: ${XDG_CACHE_HOME:-~/.cache}/nodevoy/libnode108
# (NODEVOY_LIBNODE_PREFIX overrides it). The run-time libraries and the externalized builtins that
# libnode loads from fixed paths (/usr/share/nodejs/{acorn,acorn-walk,cjs-module-lexer,undici})
# are ordinary Debian packages: installing them needs root (or sudo) once.
# Idempotent: quick when everything is already in place. Prints the prefix on success.
set -euo pipefail

cache="${XDG_CACHE_HOME:-${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}/.cache}"
prefix="${NODEVOY_LIBNODE_PREFIX:-$cache/nodevoy/libnode108}"
stamp="$prefix/.complete"
version_wanted="18.20"

runtime_packages=(libuv1 libc-ares2 libbrotli1 libnghttp2-14 libicu72 libssl3 zlib1g
                  node-acorn node-cjs-module-lexer node-undici libuv1-dev)

die() { echo "nodevoy setup: $*" >&2; exit 1; }

can_be_root() { [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

command -v dpkg-query >/dev/null ||
  die "this needs Debian's dpkg and apt (Debian 12 x64). Elsewhere, use the Debian 12 dev container that nodevoy ships (container/README.md), or install Node 18's libnode.so.108 yourself and set NODEVOY_LIBNODE_DIR to its directory"

# 1. Run-time dependencies and the externalized builtins: ordinary packages, installed with apt.
missing=()
for p in "${runtime_packages[@]}"; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if ! can_be_root; then
    die "libnode needs these Debian packages, and installing them needs root: ${missing[*]}
  Run once as root:  apt-get install -y --no-install-recommends ${missing[*]}
  then run this again (libnode itself then goes into $prefix without root)."
  fi
  echo "nodevoy setup: installing ${missing[*]} (apt, as root)" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    as_root apt-get update -qq || die "apt-get update failed (is Debian's archive reachable? does sudo need a password here?)"
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
      die "could not install ${missing[*]}; install them as root with apt-get and run this again"
  fi
fi
for builtin in acorn acorn-walk cjs-module-lexer undici; do
  [ -e "/usr/share/nodejs/$builtin" ] || die "/usr/share/nodejs/$builtin is missing after installing node-acorn, node-cjs-module-lexer and node-undici; libnode cannot create an environment without it"
done

# 2. The library and headers: the system's if libnode108/libnode-dev are installed, else the cache.
if installed libnode108 && installed libnode-dev; then
  echo "/"
  exit 0
fi
if [ -f "$stamp" ] && [ -e "$prefix/usr/lib/x86_64-linux-gnu/libnode.so.108" ] && [ -e "$prefix/usr/include/node/node.h" ]; then
  echo "$prefix"
  exit 0
fi
command -v apt-get >/dev/null || die "apt-get not found"
mkdir -p "$(dirname "$prefix")"
# Extract next to the final place and rename: another project may be running setup at the same time.
work="$(mktemp -d "$prefix.partial.XXXXXX")"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir "$work/debs" "$work/root"
chmod 777 "$work/debs"  # apt's _apt user downloads into it
(cd "$work/debs" && apt-get download libnode108 libnode-dev >/dev/null 2>&1) || {
  # The package lists may be missing or stale; refreshing them needs root.
  if can_be_root; then as_root apt-get update -qq >/dev/null 2>&1 || true; fi
  (cd "$work/debs" && apt-get download libnode108 libnode-dev >/dev/null 2>&1) ||
    die "could not download libnode108 and libnode-dev from Debian's archive (as root, run \`apt-get update\` and try again)"
}
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
version="$(dpkg-deb -f "$work"/debs/libnode108_*.deb Version)"
case "$version" in "$version_wanted"*) ;; *) die "expected libnode $version_wanted.x, got $version" ;; esac
# The dev package's unversioned symlink points at the versioned library; keep both inside the prefix.
ln -sf libnode.so.108 "$work/root/usr/lib/x86_64-linux-gnu/libnode.so"
echo "$version" > "$work/root/.complete"
# A leftover without its stamp is an interrupted setup; a complete one may be another setup's.
if [ -e "$prefix" ] && [ ! -f "$stamp" ]; then rm -rf "$prefix"; fi
if ! mv -T "$work/root" "$prefix" 2>/dev/null; then
  [ -f "$stamp" ] || die "could not move the extracted libnode into $prefix"
  echo "$prefix"  # another setup finished first
  exit 0
fi
echo "nodevoy setup: extracted libnode $version into $prefix (shared by every project of this user)" >&2
echo "$prefix"
