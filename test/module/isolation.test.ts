// libnodevoy refuses to load in a process that exports any name libnode, its libraries (libuv,
// OpenSSL, zlib, brotli, nghttp2, c-ares, ICU) or libnodevoy define or call — ld.so would bind
// libnode's calls to the host's copy — and loads where nothing clashes: the dev host with tcmalloc
// linked in (like Envoy), a preloaded allocator, a host exporting every name it has, a module
// carrying such names loaded RTLD_LOCAL (DESIGN.md: symbols). Prints what the check costs at start-up.
import fs from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { bootstrap, type ModuleFilterDef } from '../harness/config.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { outDir, testRuntime } from '../harness/paths.js'
import { runExpectingFailure, startProxy, type StartOptions, type Target } from '../harness/proxy.js'
import { devHostOnly, forEachTarget } from '../harness/targets.js'

const nativeDir = path.join(outDir, 'test-native')
const preloadedAllocator = '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4'

// Each preloaded decoy exports names of one family, never the sentinels the first check tested
// (uv_version, OPENSSL_init_ssl, OpenSSL_version_num, napi_create_object, v8::V8::Initialize) but
// for decoy_uv, kept to show the old case still holds. [name, the libnode-side library it belongs to]
// calledAtLoad: names libnode's static constructors call while the module is being loaded, before
// on_program_init can check anything (node_perf.cc takes its time origin from uv_hrtime); the
// host's copy runs there once. docs/symbol-isolation.md lists every such call, measured.
const decoys: { library: string; family: string; names: [string, string][]; calledAtLoad?: string[] }[] = [
  { library: 'libdecoy_uv.so', family: 'libuv (the old sentinel)', names: [['uv_version', 'libuv.so.1']] },
  { library: 'libdecoy_libuv.so', family: 'libuv', names: [['uv_hrtime', 'libuv.so.1']], calledAtLoad: ['uv_hrtime'] },
  {
    library: 'libdecoy_openssl.so',
    family: 'OpenSSL / BoringSSL',
    names: [['SSL_new', 'libssl.so.3'], ['EVP_DigestInit_ex', 'libcrypto.so.3']],
  },
  { library: 'libdecoy_zlib.so', family: 'zlib', names: [['inflateInit2_', 'libz.so.1']] },
  { library: 'libdecoy_brotli.so', family: 'brotli', names: [['BrotliDecoderCreateInstance', 'libbrotlidec.so.1']] },
  { library: 'libdecoy_nghttp2.so', family: 'nghttp2', names: [['nghttp2_session_client_new', 'libnghttp2.so.14']] },
  { library: 'libdecoy_cares.so', family: 'c-ares', names: [['ares_init_options', 'libcares.so.2']] },
  {
    library: 'libdecoy_icu.so',
    family: `ICU ${testRuntime.icu}`,
    names: [[`ucol_open_${testRuntime.icu}`, `libicui18n.so.${testRuntime.icu}`]],
  },
  {
    library: 'libdecoy_node.so',
    family: 'N-API and V8',
    names: [['napi_get_undefined', testRuntime.libnode.soname], ['_ZN2v87Isolate10GetCurrentEv', testRuntime.libnode.soname]],
  },
]

// The dev host linked like an Envoy built with --define exported_symbols=enabled that carries
// BoringSSL, zlib, brotli, nghttp2, c-ares and V8 (host/Makefile: BUNDLED_DEPS).
const bundledDepsNames = [
  'SSL_new', 'EVP_DigestInit_ex', 'inflateInit2_', 'BrotliDecoderCreateInstance', 'nghttp2_session_client_new',
  'ares_init_options', 'napi_get_undefined', '_ZN2v87Isolate10GetCurrentEv',
]

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const refusal = /nodevoy: refusing to load: the host process exports (\d+) names? that libnode's own libraries define or call/

// The check's own figure, logged at debug level: "<n> clashes, <ms> ms".
const checkTimes: number[] = []
function checkFigures(output: string): { clashes: number; ms: number } | undefined {
  const match = /symbol isolation: .*: (\d+) clashes, ([\d.]+) ms/.exec(output)
  if (!match) return undefined
  const figures = { clashes: Number(match[1]), ms: Number(match[2]) }
  checkTimes.push(figures.ms)
  return figures
}

async function config(before: ModuleFilterDef[] = []) {
  const bundle = await bundled('test/filters/read-headers.ts')
  return bootstrap({
    filters: [...before, nodevoyFilter({ name: 'f', bundle })],
    routes: [{ prefix: '/', directResponse: { status: 200 } }],
  })
}

async function refused(
  t: Test,
  target: Target,
  opts: StartOptions,
  before: ModuleFilterDef[] = [],
  calledAtLoad: string[] = [],
) {
  const { code, output } = await runExpectingFailure(target, await config(before), { logLevel: 'debug', ...opts })
  t.not(code, 0, 'the config is refused')
  t.match(output, refusal, 'the refusal says the host exports names of libnode\'s libraries')
  const figures = checkFigures(output)
  t.ok(figures && figures.clashes > 0, 'the check logged its figures')
  // Every decoy reports when it runs (test/native/decoy.h): up to the refusal, only the calls
  // libnode's static constructors make at load time.
  const beforeRefusal = output.slice(0, output.search(refusal))
  const called = [...beforeRefusal.matchAll(/decoy called: (\S+)/g)].map((m) => m[1]!)
  t.same([...new Set(called)].sort(), [...calledAtLoad].sort(), `before the refusal the host's copy ran only for ${calledAtLoad.join(', ') || 'nothing'}`)
  return output
}

async function loadsAndServes(t: Test, target: Target, opts: StartOptions, before: ModuleFilterDef[] = []) {
  const proxy = await startProxy(target, await config(before), { logLevel: 'debug', ...opts })
  try {
    const res = await request(`${proxy.url}/`, { headers: { 'x-a': 'one' } })
    await res.body.text()
    t.equal(res.statusCode, 200)
    t.match(String(res.headers['x-stats-request']), /^1,\d+,one\|-\|-$/, 'the TypeScript filter ran')
    const figures = checkFigures(proxy.logs())
    t.ok(figures, 'the check ran at program init')
    t.equal(figures?.clashes, 0, 'and found nothing clashing')
    t.notMatch(proxy.logs(), /refusing to load/)
  } finally {
    await proxy.stop()
  }
}

for (const decoy of decoys) {
  const file = path.join(nativeDir, decoy.library)
  t.test(`a preloaded library exporting ${decoy.family} names makes libnodevoy refuse to load, naming them`, (t) =>
    forEachTarget(t, async (t, target) => {
      const output = await refused(t, target, { env: { LD_PRELOAD: file } }, [], decoy.calledAtLoad)
      t.match(output, refusal)
      t.equal(Number(refusal.exec(output)?.[1]), decoy.names.length, 'every exported name counts, no other')
      for (const [name, library] of decoy.names) {
        t.match(output, new RegExp(`${escape(name)} \\(${escape(library)}, exported by ${escape(file)}\\)`), `${name} named with ${library}`)
      }
      t.match(output, `${file} is in the process's global scope (LD_PRELOAD`, 'says which library to remove')
      t.notMatch(output, /The executable exports them/)
    }),
  )
}

t.test('a host executable exporting names of libnode\'s libraries (everything exported) is refused', (t) =>
  devHostOnly(t, async (t) => {
    const host = path.join(nativeDir, 'nodevoy-devhost-bundled-deps')
    // These special dev host builds exist for Envoy v1.40's callbacks only; the ELF check they exercise
    // is libnodevoy's and the same under every release.
    const output = await refused(t, 'devhost', { devHostBinary: host, envoyVersion: '1.40' })
    t.equal(Number(refusal.exec(output)?.[1]), bundledDepsNames.length, 'every name it carries counts')
    const listed = [...output.matchAll(/(\S+) \([^,()]+, exported by ([^)]+)\)/g)]
    t.equal(listed.length, 5, 'the first five are named')
    for (const [, name, exporter] of listed) {
      t.ok(bundledDepsNames.includes(name!), `${name} is one of the host's`)
      t.equal(exporter, host)
    }
    t.match(output, `and ${bundledDepsNames.length - 5} more`)
    t.match(output, /The executable exports them: run an Envoy release build, which exports only its dynamic-module callbacks and its allocator/)
  }),
)

t.test('a module exporting a zlib name: loaded globally before libnodevoy it is refused, locally it is not', (t) =>
  forEachTarget(t, async (t, target) => {
    const module = (loadGlobally: boolean): ModuleFilterDef => ({ name: 'zlib-carrier', module: 'exports_zlib_name', loadGlobally })
    const output = await refused(t, target, {}, [module(true)])
    t.match(output, /inflateInit2_ \(libz\.so\.1, exported by [^)]*libexports_zlib_name\.so\)/)
    t.match(output, /libexports_zlib_name\.so is in the process's global scope/)
    await t.test('RTLD_LOCAL', (t) => loadsAndServes(t, target, {}, [module(false)]))
  }),
)

t.test('the dev host as Envoy links it (tcmalloc inside, exporting the allocator and callbacks) loads and serves', (t) =>
  forEachTarget(t, (t, target) => loadsAndServes(t, target, {})),
)

t.test('a preloaded allocator (libtcmalloc_minimal) does not stop libnodevoy', (t) =>
  forEachTarget(t, async (t, target) => {
    t.ok(fs.existsSync(preloadedAllocator), `${preloadedAllocator} is installed (scripts/setup-native.sh: libgoogle-perftools-dev)`)
    await loadsAndServes(t, target, { env: { LD_PRELOAD: preloadedAllocator } })
  }),
)

t.test('a host exporting every name it has, none of them libnode\'s, loads and serves', (t) =>
  devHostOnly(t, (t) => loadsAndServes(t, 'devhost', { devHostBinary: path.join(nativeDir, 'nodevoy-devhost-export-all'), envoyVersion: '1.40' })),
)

t.test('start-up cost of the check', async (t) => {
  const sorted = [...checkTimes].sort((a, b) => a - b)
  t.ok(sorted.length > 10, `${sorted.length} program inits measured`)
  const median = sorted[Math.floor(sorted.length / 2)]!
  t.comment(
    `symbol isolation check at program init: median ${median.toFixed(2)} ms, min ${sorted[0]!.toFixed(2)} ms, ` +
      `max ${sorted[sorted.length - 1]!.toFixed(2)} ms over ${sorted.length} starts (nothing runs after program init)`,
  )
})
