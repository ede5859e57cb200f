// The dev host re-reads its bootstrap on POST /devhost/reload (or SIGHUP): new streams get the new
// filters and routes, streams in flight finish on the old ones, a bad config is refused and counted.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { Agent, request } from 'undici'
import { globals, probe, send, until } from '../conformance/abi.support.js'
import { bootstrap } from '../harness/config.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { envoyVersionUnderTest, startProxy } from '../harness/proxy.js'
import { devHostOnly } from '../harness/targets.js'
import { startUpstream } from '../harness/upstream.js'

const withVersion = (bundle: string, version: unknown) =>
  bootstrap({
    filters: [nodevoyFilter({ name: 'versioned', bundle, config: { version } })],
    routes: [{ prefix: '/', directResponse: { status: 200, body: 'ok' } }],
  })

t.test('a reload swaps the filter config; in-flight streams finish on the old one', (t) =>
  devHostOnly(t, async (t) => {
    const bundle = await bundled('test/filters/version.ts')
    const proxy = await startProxy('devhost', withVersion(bundle, 'v1'))
    t.teardown(() => proxy.stop())
    const first = await request(proxy.url)
    t.equal(first.headers['x-version'], 'v1')
    await first.body.text()

    const inFlight = request(proxy.url, { headers: { 'x-wait-ms': '300' } })
    await new Promise((r) => setTimeout(r, 50))
    const reload = await proxy.reload(withVersion(bundle, 'v2'))
    t.equal(reload.status, 200, reload.body)
    const after = await request(proxy.url)
    t.equal(after.headers['x-version'], 'v2', 'a new stream gets the new config')
    await after.body.text()
    const old = await inFlight
    t.equal(old.statusCode, 200)
    t.equal(old.headers['x-version'], 'v1', 'the stream in flight finished on the old config')
    await old.body.text()
    t.equal(await proxy.stat('devhost.reloads'), 1)
    // The old config's instance got onDestroy once its last stream ended: one live instance per worker.
    const later = await request(proxy.url)
    t.equal(later.headers['x-live-instances'], '1', 'the replaced instance was destroyed (onDestroy ran)')
    await later.body.text()
  }),
)

t.test('a refused reload keeps the running config and counts the failure', (t) =>
  devHostOnly(t, async (t) => {
    const bundle = await bundled('test/filters/version.ts')
    const proxy = await startProxy('devhost', withVersion(bundle, 'v1'))
    t.teardown(() => proxy.stop())
    const bad = await proxy.reload(withVersion(bundle, 42))
    t.equal(bad.status, 400)
    t.match(bad.body, /reload refused, the previous configuration stays: .*on_http_filter_config_new returned null/)
    await proxy.waitForLog(/invalid config for filter "version": version: /)
    // Envoy counts load failures since v1.39 (envoy-facts §2).
    const counted = envoyVersionUnderTest() === '1.38' ? undefined : 1
    t.equal(await proxy.stat('dynamic_modules.config_init_error.config_name.versioned'), counted, "counted under Envoy's name")
    const res = await request(proxy.url)
    t.equal(res.headers['x-version'], 'v1', 'the old config still serves')
    await res.body.text()
    const typo = await proxy.reload('static_resources: {listeners: []}\nbogus: 1\n')
    t.equal(typo.status, 400)
    t.match(typo.body, /bogus/)
  }),
)

// Like Envoy after an LDS/ECDS update: every stream holds its filter config, so the last stream in flight
// drops the last reference, and on_http_filter_config_destroy runs on that stream's worker.
t.test('a reload with a stream in flight: the replaced config is destroyed on the worker of its last stream', (t) =>
  devHostOnly(t, async (t) => {
    const upstream = await startUpstream()
    t.teardown(() => upstream.close())
    const withProbe = (label: string) =>
      bootstrap({ filters: [probe(label, { config_scheduler: false })], clusters: { backend: [upstream.port] } })
    const proxy = await startProxy('devhost', withProbe('a'), { componentLogLevel: 'dynamic_modules:debug' })
    t.teardown(() => proxy.stop())
    const before = await globals(proxy, 'a')
    const inFlight = send(proxy, { headers: { 'x-probe': 'pause@a', 'x-probe-delay-ms': '300' } })
    await sleep(100)
    const reload = await proxy.reload(withProbe('b'))
    t.equal(reload.status, 200, reload.body)
    const old = await inFlight
    t.equal(old.status, 200, 'the stream in flight finished on the old config')
    const after = await until(() => globals(proxy, 'b'), (g) => g.configs_destroyed > before.configs_destroyed)
    t.equal(after.configs_destroyed - before.configs_destroyed, 1, 'the old config was destroyed')
    t.equal(after.config_destroy_off_main - before.config_destroy_off_main, 1, 'on a thread other than config_new\'s')
    await proxy.waitForLog(/destroying filter config 'probe-a' on worker \d/)
    t.pass('the dev host names the worker')
  }),
)

// libnodevoy under Envoy's config lifetime: reloads while streams are in flight on both workers, so its
// config destroy runs on workers (issue 8 item 1 makes that safe; this drives it).
t.test('libnodevoy: reloads with streams in flight on both workers', (t) =>
  devHostOnly(t, async (t) => {
    const bundle = await bundled('test/filters/version.ts')
    const proxy = await startProxy('devhost', withVersion(bundle, 'v0'), { concurrency: 2, componentLogLevel: 'dynamic_modules:debug' })
    let stopped = false
    t.teardown(() => (stopped ? undefined : proxy.stop()))
    const agent = new Agent({ connections: 40 })
    t.teardown(() => agent.close())
    let failed = 0
    for (let round = 1; round <= 5; round++) {
      const inFlight = Array.from({ length: 16 }, () =>
        request(proxy.url, { dispatcher: agent, headers: { 'x-wait-ms': '150' } }).then(
          async (res) => {
            await res.body.text()
            if (res.statusCode !== 200) failed++
          },
          () => failed++,
        ),
      )
      await sleep(40)
      const reload = await proxy.reload(withVersion(bundle, `v${round}`))
      t.equal(reload.status, 200, `reload ${round}`)
      await Promise.all(inFlight)
    }
    t.equal(failed, 0, 'every stream in flight across a reload completed')
    await proxy.waitForLog(/destroying filter config 'versioned' on worker \d/)
    t.pass('a replaced config was destroyed on a worker')
    const res = await request(proxy.url, { dispatcher: agent })
    t.equal(res.headers['x-version'], 'v5')
    await res.body.text()
    const exit = await proxy.stop()
    stopped = true
    t.same(exit, { code: 0, signal: null }, 'the dev host exits cleanly')
  }),
)
