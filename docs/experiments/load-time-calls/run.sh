#!/usr/bin/env bash
# The load-time-calls experiment of docs/symbol-isolation.md: which functions of libnode's libraries
# run before libnodevoy's on_program_init can check anything? Generates a library that defines every
# exported function name of libnode's libraries, logs each call and forwards it to the real library
# (so Node behaves normally), preloads it into the dev host, and prints the calls made before the
# refusal line. Needs npm run build:native first, gcc and nm. Not part of npm test.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
prefix="$(bash "$root/scripts/setup-libnode.sh")"
[ "$prefix" = "/" ] && prefix=""
libnode_dir="$prefix/usr/lib/x86_64-linux-gnu"
system=/lib/x86_64-linux-gnu
libraries=(libuv.so.1 libz.so.1 libcares.so.2 libnghttp2.so.14 libbrotlidec.so.1 libbrotlienc.so.1
           libbrotlicommon.so.1 libssl.so.3 libcrypto.so.3 libicuuc.so.72 libicui18n.so.72)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

{
  cat <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>
#include <unistd.h>
static const char* const libraries[] = {LIBRARIES 0};
/* The real definition: looked up in each library's own handle, past this preloaded copy. */
static void* real(const char* name) {
  for (int i = 0; libraries[i]; ++i) {
    void* handle = dlopen(libraries[i], RTLD_NOW | RTLD_NOLOAD);
    void* found = handle ? dlsym(handle, name) : 0;
    if (found) return found;
  }
  return 0;
}
static void note(const char* name) {
  (void)!write(2, "called: ", 8);
  (void)!write(2, name, strlen(name));
  (void)!write(2, "\n", 1);
}
/* Forwards whatever arguments arrived (GCC's __builtin_apply), so no signature is needed. */
#define FORWARD(id, name)                                                               \
  void id(void) __asm__(name);                                                          \
  void id(void) {                                                                       \
    static void* target;                                                                \
    if (!target) target = real(name);                                                   \
    note(name);                                                                         \
    if (!target) _exit(98);                                                             \
    void* result = __builtin_apply((void (*)())target, __builtin_apply_args(), 256);   \
    __builtin_return(result);                                                           \
  }
C
  for library in "${libraries[@]}"; do nm -D --defined-only "$system/$library" | awk '$2 == "T" { print $3 }'; done |
    sed 's/@.*//' | sort -u | grep -v -x -e _init -e _fini | awk '{ printf "FORWARD(f%d, \"%s\")\n", NR, $1 }'
} > "$work/forward.c"
quoted="$(printf '"%s", ' "${libraries[@]}")"
gcc -O1 -fPIC -shared -w -DLIBRARIES="$quoted" "$work/forward.c" -o "$work/libforward.so" -ldl
echo "forwarding $(grep -c '^FORWARD' "$work/forward.c") function names" >&2

mkdir -p "$work/modules"
ln -s "$root/build/Release/nodevoy.node" "$work/modules/libnodevoy.so"
cat > "$work/envoy.yaml" <<'YAML'
static_resources:
  listeners:
    - name: ingress
      address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress
                route_config:
                  virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: / }, direct_response: { status: 200 } }] }]
                http_filters:
                  - name: f
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter
                      dynamic_module_config: { name: nodevoy, do_not_close: true }
                      filter_name: f
                  - name: envoy.filters.http.router
                    typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
YAML
set +e
ENVOY_DYNAMIC_MODULES_SEARCH_PATH="$work/modules" LD_LIBRARY_PATH="$libnode_dir" LD_PRELOAD="$work/libforward.so" \
  timeout 60 "$root/out/nodevoy-devhost" -c "$work/envoy.yaml" --log-level debug > "$work/output" 2>&1
set -e
echo "== calls before the refusal (load time: libnode's static constructors)"
sed -n '1,/refusing to load/p' "$work/output" | grep '^called: ' | sort | uniq -c | sort -rn
echo "== the check"
grep -o 'symbol isolation: .*' "$work/output" || true
grep -o 'refusing to load: the host process exports [0-9]* names' "$work/output" || true
echo "== calls after the refusal (process exit: libnode's destructors)"
sed -n '/refusing to load/,$p' "$work/output" | grep '^called: ' | sort | uniq -c | sort -rn
