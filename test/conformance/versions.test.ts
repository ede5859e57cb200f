// What differs between the Envoy releases the dev host imitates (--envoy-version 1.38|1.39|1.40) and
// matters to a module: exported callbacks, ABI version string, load mode, destroy timing, the v1.38
// continue flag and streamed replies, load-failure stats, config conversions, xDS attributes.
// Facts and sources: docs/envoy-facts.md §25. Dev host only: a real Envoy is one release.
import http from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { bootstrap, type BootstrapDef } from '../harness/config.js'
import { ENVOY_VERSIONS, runExpectingFailure, startProxy, unavailableReason, type EnvoyVersion } from '../harness/proxy.js'
import { startEarlyUpstream, startUpstream } from '../harness/upstream.js'
import { globals, probe, rep, send, until } from './abi.support.js'

/** Runs fn once per imitated release, each on its own dev host. */
async function forEachVersion(t: Test, fn: (t: Test, version: EnvoyVersion) => Promise<void>): Promise<void> {
  const reason = unavailableReason('devhost')
  for (const version of ENVOY_VERSIONS) {
    if (reason) await t.test(`Envoy ${version}`, { skip: reason }, async () => {})
    else await t.test(`Envoy ${version}`, (tt) => fn(tt, version))
  }
}

async function devhost(t: Test, version: EnvoyVersion, def: BootstrapDef, extra: { clusters?: boolean } = {}) {
  let clusters: Record<string, number[]> | undefined
  if (extra.clusters !== false) {
    const upstream = await startUpstream()
    t.teardown(() => upstream.close())
    clusters = { backend: [upstream.port] }
  }
  const proxy = await startProxy('devhost', bootstrap({ ...def, ...(clusters ? { clusters } : {}) }), { envoyVersion: version })
  t.teardown(() => proxy.stop())
  return proxy
}

const quietProbe = (label: string, config: Record<string, unknown> = {}, def = {}) =>
  probe(label, { config_scheduler: false, ...config }, def)

t.test('callbacks a module can resolve, and the ABI version string each release expects', (t) =>
  forEachVersion(t, async (t, version) => {
    const proxy = await devhost(t, version, { filters: [quietProbe('a')] })
    const res = await send(proxy, { headers: { 'x-probe': 'config@a' } })
    const expected = {
      '1.38': 'get_header_values=false,get_log_level=false,config_increment_counter=false,log_v2=false',
      '1.39': 'get_header_values=true,get_log_level=true,config_increment_counter=true,log_v2=false',
      '1.40': 'get_header_values=true,get_log_level=true,config_increment_counter=true,log_v2=true',
    }[version]
    t.equal(rep(res, 'a', 'callbacks-available'), expected, 'what dlsym finds is what the release exports')
    const abi = version === '1.40' ? 'v0.2.0' : 'v0.1.0'
    await proxy.waitForLog(new RegExp(`Dynamic module ABI version ${abi.replace(/\./g, '\\.')} matched\\.`))
    t.pass(`the probe answered ${abi}, which Envoy ${version} expects`)
    // A module built for v1.40 (the reference noop) on an older release: loaded, with Envoy's warning.
    if (version !== '1.40') {
      const old = await devhost(t, version, { filters: [{ name: 'noop', module: 'noop' }] })
      await old.waitForLog(/Dynamic module ABI version v0\.2\.0 is deprecated\. Please recompile the module against the SDK/)
      t.pass('v0.2.0 on an older release: the deprecation warning, and the module loads')
    }
  }),
)

t.test('load mode: RTLD_LAZY before v1.40, RTLD_NOW in v1.40', (t) =>
  forEachVersion(t, async (t, version) => {
    const def = { filters: [{ name: 'lazy', module: 'unresolved_callback' }], routes: [{ prefix: '/', directResponse: { status: 200 } }] }
    if (version === '1.40') {
      const { code, output } = await runExpectingFailure('devhost', bootstrap(def), { envoyVersion: version })
      t.not(code, 0)
      t.match(output, /undefined symbol: envoy_dynamic_module_callback_nodevoy_test_never_exported/)
    } else {
      const proxy = await devhost(t, version, def, { clusters: false })
      const res = await send(proxy)
      t.equal(res.status, 200, 'an unresolved callback that is never called does not stop the module')
    }
  }),
)

t.test('on_http_filter_destroy: synchronous right after stream_complete before v1.40, deferred in v1.40', (t) =>
  forEachVersion(t, async (t, version) => {
    const proxy = await devhost(t, version, {
      filters: [quietProbe('a'), quietProbe('b')],
      routes: [{ prefix: '/direct', directResponse: { status: 200, body: 'direct' } }, { prefix: '/' }],
    })
    const synchronous = version !== '1.40'
    const g0 = await globals(proxy, 'a')
    // reset_stream from a request hook ends the stream inside the call.
    const reset = await send(proxy, { headers: { 'x-probe': 'reset@a' } }).catch((e: Error) => e)
    t.ok(reset instanceof Error, 'the client sees the reset')
    // Settled: only the streams of the globals request itself (one per instance) are alive.
    const settled = (g: Record<string, any>) => g.streams_live === 2
    const g1 = await until(() => globals(proxy, 'a'), settled)
    t.equal(g1.destroyed_after_callback - g0.destroyed_after_callback, synchronous ? 1 : 0, 'destroyed inside reset_stream')
    // continue_decoding from on_scheduled reaches a direct response, which ends the stream inside it.
    const paused = await send(proxy, { path: '/direct', headers: { 'x-probe': 'pause@a', 'x-probe-delay-ms': '5' } })
    t.equal(paused.status, 200)
    const g2 = await until(() => globals(proxy, 'a'), settled)
    t.equal(g2.destroy_inside_hook - g0.destroy_inside_hook, synchronous ? 2 : 0,
      "a's destroy ran while its hook was on the stack: inside reset_stream, and inside on_scheduled")
    t.equal(g2.complete_before_destroy - g0.complete_before_destroy, g2.streams_destroyed - g0.streams_destroyed,
      'stream_complete still comes first')
    if (synchronous) {
      t.equal(await proxy.stat('devhost.abi_violation'), undefined, 'the probe made no call after its destroy')
    }
  }),
)

t.test('v1.38: one continue flag for both directions; a request body frame makes continue_encoding a no-op', (t) =>
  forEachVersion(t, async (t, version) => {
    // An upstream that answers on the request headers, before reading the body: an early response.
    const early = await startEarlyUpstream()
    t.teardown(() => early.close())
    const proxy = await startProxy(
      'devhost',
      bootstrap({ filters: [quietProbe('a')], clusters: { backend: [early.port] } }),
      { envoyVersion: version },
    )
    t.teardown(() => proxy.stop())
    const g0 = await globals(proxy, 'a')
    const result = await new Promise<{ status: number } | 'no-response'>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1', port: proxy.port, method: 'POST', path: '/', agent: false,
        headers: { 'x-probe': 'pause:response-headers@a', 'x-probe-delay-ms': '300', 'transfer-encoding': 'chunked' },
      })
      const timer = setTimeout(() => { req.destroy(); resolve('no-response') }, 2500)
      req.on('response', (res) => { res.resume(); res.on('end', () => { clearTimeout(timer); resolve({ status: res.statusCode ?? 0 }) }) })
      req.on('error', (e) => { clearTimeout(timer); if ((e as NodeJS.ErrnoException).code === 'ECONNRESET') resolve('no-response'); else reject(e) })
      req.write('first')
      // The second body frame arrives while the probe's response hook waits (its status is Stop).
      early.answered.then(() => sleep(100)).then(() => { req.write('second'); req.end() })
    })
    const g1 = await globals(proxy, 'a')
    t.equal(g1.continue_encoding_calls - g0.continue_encoding_calls, 1, 'the probe called continue_encoding after its pause')
    if (version === '1.38') {
      t.equal(result, 'no-response', 'v1.38: the request body hook set the shared flag; continue_encoding did nothing')
    } else {
      t.same(result, { status: 200 }, 'per-direction flags: the response continues')
    }
  }),
)

t.test('send_response_headers: v1.38 runs the sender\'s own encode hooks, later releases skip them', (t) =>
  forEachVersion(t, async (t, version) => {
    const proxy = await devhost(t, version, {
      filters: [quietProbe('o'), quietProbe('t', { terminal: true }, { terminal: true })],
      noRouter: true,
      routes: [{ prefix: '/', directResponse: { status: 404 } }],
    }, { clusters: false })
    const g0 = await globals(proxy, 'o')
    const res = await send(proxy, { headers: { 'x-probe-stream-body': 'a;b' } })
    t.equal(res.status, 200)
    t.equal(res.body, 'ab')
    const g1 = await globals(proxy, 'o')
    t.equal(g1.own_reply_response_hooks - g0.own_reply_response_hooks, version === '1.38' ? 3 : 0,
      'response headers and two data frames reached the terminal probe\'s own hooks')
  }),
)

t.test('load-failure stats: dynamic_modules.* counters since v1.39', (t) =>
  forEachVersion(t, async (t, version) => {
    const good = { filters: [quietProbe('a')], routes: [{ prefix: '/', directResponse: { status: 200 } }] }
    const proxy = await devhost(t, version, good, { clusters: false })
    const bad = bootstrap({ filters: [{ name: 'rejecting', module: 'config_null' }], routes: good.routes })
    const reload = await proxy.reload(bad)
    t.equal(reload.status, 400, 'the reload is refused')
    const stat = await proxy.stat('dynamic_modules.config_init_error.config_name.rejecting')
    t.equal(stat, version === '1.38' ? undefined : 1)
  }),
)

t.test('filter_config conversions: TypedStruct as JSON only in v1.40; a v1.38 per-route Struct as proto bytes', (t) =>
  forEachVersion(t, async (t, version) => {
    const typed = bootstrap({ filters: [quietProbe('a')], routes: [{ prefix: '/', directResponse: { status: 200 } }] }) as any
    typed.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.filter_config = {
      '@type': 'type.googleapis.com/xds.type.v3.TypedStruct',
      type_url: 'type.googleapis.com/test.Probe',
      value: { label: 'a', config_scheduler: false },
    }
    if (version === '1.40') {
      const proxy = await startProxy('devhost', typed, { envoyVersion: version })
      t.teardown(() => proxy.stop())
      const res = await send(proxy, { headers: { 'x-probe': 'config@a' } })
      t.equal(res.status, 200, 'the TypedStruct value arrived as JSON')
    } else {
      const { code, output } = await runExpectingFailure('devhost', typed, { envoyVersion: version })
      t.not(code, 0)
      t.match(output, /probe: invalid filter_config/, 'the serialized TypedStruct is not JSON')
    }
    const proxy = await devhost(t, version, {
      filters: [quietProbe('a')],
      routes: [{ prefix: '/', perFilter: { 'probe-a': { module: 'probe', config: { k: 'v' } } } }],
    })
    const res = await send(proxy, { headers: { 'x-probe': 'route-config@a' } })
    // Struct{fields {key "k" value {string_value "v"}}} on the wire: 0a 08 0a 01 'k' 12 03 1a 01 'v'.
    t.equal(rep(res, 'a', 'route-config'), version === '1.38' ? '%0A%08%0A%01k%12%03%1A%01v' : '{"k":"v"}')
  }),
)

t.test('xDS attributes: the virtual host and cluster names from v1.40', (t) =>
  forEachVersion(t, async (t, version) => {
    const proxy = await devhost(t, version, { filters: [quietProbe('a')] })
    const res = await send(proxy, { headers: { 'x-probe': 'attributes@a' } })
    t.equal(rep(res, 'a', 'attr-vhost-name'), version === '1.40' ? 'all' : '(none)', 'v1.38/v1.39 read the virtual cluster name (none here)')
    t.equal(rep(res, 'a', 'attr-cluster-name'), version === '1.40' ? 'backend' : '(none)', 'no accessor before v1.40')
  }),
)
