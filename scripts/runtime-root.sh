#!/usr/bin/env bash
# A Debian root that ships a newer libnode than this host can run (Node 20 needs glibc >= 2.38,
# Node 22/24 >= 2.38/2.43; Debian 12 has 2.36), made with debootstrap and cached per user, so
# libnodevoy and its tests can run on that runtime here and in CI (as root: debootstrap, chroot and
# bind mounts need it).
#
#   runtime-root.sh make <runtime>         make (or reuse) the root for node20/node22/node24; prints its path
#   runtime-root.sh run <runtime> CMD...   run CMD in that root, as root, with this checkout and its
#                                          node_modules bind-mounted at the same path; /proc, /dev, /sys,
#                                          /dev/shm mounted for the command and unmounted afterwards
#
# Which root holds which runtime: node20 = Debian 13 trixie (libnode115, and its nodejs 20 to run the
# test tools); node22 and node24 = Debian sid (libnode127 and libnode137; nodejs 24). The cache lives
# in ${XDG_CACHE_HOME:-~/.cache}/nodevoy/roots/<suite> (NODEVOY_ROOTS_DIR overrides the parent).
set -euo pipefail

die() { echo "runtime-root: $*" >&2; exit 1; }
cache="${XDG_CACHE_HOME:-${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}/.cache}"
roots="${NODEVOY_ROOTS_DIR:-$cache/nodevoy/roots}"
mirror="${NODEVOY_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
repo="$(cd "$(dirname "$0")/.." && pwd)"

suite_of() {
  case "$1" in
    node20) echo trixie ;;
    node22 | node24) echo sid ;;
    *) die "no root for runtime \"$1\" (roots exist for node20, node22, node24; node18 runs on this Debian 12 host)" ;;
  esac
}

# What each root holds: the libnodes (with the builtins they load from /usr/share/nodejs) and the
# distribution's nodejs, which runs tap/tsx from this checkout's node_modules inside the root.
packages_of() {
  case "$1" in
    trixie) echo "libnode115,nodejs,node-acorn,node-cjs-module-lexer,node-undici,ca-certificates,libcjson1,binutils,libtcmalloc-minimal4t64" ;;
    # libnode137 declares Breaks: libnode127 (<< 23), so sid's libnode127 (Node 22) is not installed
    # but extracted into /opt/nodevoy/libnode127 (see below); these are the libraries only it needs.
    # libcjson1: the C reference modules the conformance tests load beside libnodevoy; binutils: nm, for the export tests;
    # libtcmalloc-minimal4t64: the preloaded allocator of the symbol-isolation test.
    sid) echo "libnode137,nodejs,node-acorn,node-cjs-module-lexer,node-undici,ca-certificates,libsimdutf33,libllhttp9.3,libcjson1,binutils,libtcmalloc-minimal4t64" ;;
  esac
}

make_root() {
  local suite="$1" dir="$roots/$1"
  local wanted stamp="$dir/.nodevoy-root"
  wanted="$(packages_of "$suite")"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then echo "$dir"; return; fi
  [ "$(id -u)" -eq 0 ] || die "making a root needs root (debootstrap); run as root"
  if [ -f "$stamp" ]; then
    # A root made for an older package list: add what is missing with the root's own apt.
    echo "runtime-root: adding packages to the $suite root ($wanted)" >&2
    cp -L /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
    # apt's signature check and dpkg's scripts need /proc and /dev.
    mount_system "$dir"
    local updated=0
    # shellcheck disable=SC2086
    chroot "$dir" sh -ec "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(echo "$wanted" | tr , ' ') && apt-get clean" \
      >>"$roots/$suite.update.log" 2>&1 && updated=1
    unmount_all "$dir"
    if [ "$updated" = 1 ]; then
      echo "$wanted" >"$stamp"
      echo "$dir"
      return
    fi
    echo "runtime-root: could not update the $suite root; making it anew" >&2
  fi
  command -v debootstrap >/dev/null || {
    echo "runtime-root: installing debootstrap (apt)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null 2>&1 ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; } ||
      die "could not install debootstrap with apt"
  }
  mkdir -p "$roots"
  local work="$dir.partial"
  unmount_all "$work"
  rm -rf "$work"
  local started=$SECONDS
  echo "runtime-root: debootstrap $suite (minbase + $wanted) into $dir ..." >&2
  # Debian 12's debootstrap knows trixie and sid; its keyring holds the keys that sign both.
  if ! debootstrap --variant=minbase --include="$wanted" "$suite" "$work" "$mirror" >"$roots/$suite.debootstrap.log" 2>&1; then
    tail -20 "$roots/$suite.debootstrap.log" >&2
    die "debootstrap $suite failed (log: $roots/$suite.debootstrap.log)"
  fi
  if [ "$suite" = sid ]; then
    # Node 22: sid's own libnode127 build, beside (not instead of) libnode137; NODEVOY_LIBNODE_DIR
    # points libnodevoy's loaders at it.
    chroot "$work" sh -ec 'cd /tmp && apt-get download -q libnode127 >/dev/null && mkdir -p /opt/nodevoy/libnode127 &&
      dpkg-deb -x libnode127_*.deb /opt/nodevoy/libnode127 && rm libnode127_*.deb' >>"$roots/$suite.debootstrap.log" 2>&1 ||
      die "could not add libnode127 to the sid root (log: $roots/$suite.debootstrap.log)"
  fi
  rm -rf "$work"/var/cache/apt/archives/*.deb
  echo "$wanted" >"$work/.nodevoy-root"
  rm -rf "$dir"
  mv -T "$work" "$dir"
  echo "runtime-root: $suite root made in $((SECONDS - started)) s" >&2
  echo "$dir"
}

# Mounts /proc, /dev and /sys in the root $1 (unmount_all undoes it).
mount_system() {
  mkdir -p "$1/proc" "$1/dev" "$1/sys"
  mount -t proc proc "$1/proc"
  mount --rbind /dev "$1/dev"
  mount --make-rslave "$1/dev"
  mount -t sysfs sysfs "$1/sys"
}

# Unmounts everything mounted below $1 (deepest first).
unmount_all() {
  local dir
  dir="$(realpath -m "$1")"
  awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
}

run_in_root() {
  local runtime="$1"; shift
  local dir
  dir="$(make_root "$(suite_of "$runtime")")"
  [ $# -gt 0 ] || die "run: no command given"
  # This checkout at the same path inside the root, so absolute paths in tests and builds hold.
  mkdir -p "$dir$repo" "$dir/tmp"
  trap 'unmount_all "'"$dir"'"' EXIT
  mount_system "$dir"
  mount --bind "$repo" "$dir$repo"
  cp -L /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
  # debootstrap writes no /etc/hosts; tests resolve localhost.
  [ -s "$dir/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$dir/etc/hosts"
  chmod 1777 "$dir/tmp"
  local status=0
  chroot "$dir" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 CI="${CI:-}" NODEVOY_RUNTIME="$runtime" ${NODEVOY_ROOT_ENV:-} \
    bash -c 'cd "$0" && exec "$@"' "$repo" "$@" || status=$?
  unmount_all "$dir"
  trap - EXIT
  return $status
}

case "${1:-}" in
  make) [ $# -eq 2 ] || die "usage: runtime-root.sh make <node20|node22|node24>"; make_root "$(suite_of "$2")" ;;
  run) [ $# -ge 3 ] || die "usage: runtime-root.sh run <node20|node22|node24> CMD..."; shift; run_in_root "$@" ;;
  *) die "usage: runtime-root.sh make <runtime> | run <runtime> CMD..." ;;
esac
