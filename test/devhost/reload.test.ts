// The dev host re-reads its bootstrap on POST /devhost/reload (or SIGHUP): new streams get the new
// filters and routes, streams in flight finish on the old ones, a bad config is refused and counted.
import t from 'tap'
import { request } from 'undici'
import { bootstrap } from '../harness/config.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { startProxy } from '../harness/proxy.js'
import { devHostOnly } from '../harness/targets.js'

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
    t.equal(await proxy.stat('dynamic_modules.config_init_error.config_name.versioned'), 1, "counted under Envoy's name")
    const res = await request(proxy.url)
    t.equal(res.headers['x-version'], 'v1', 'the old config still serves')
    await res.body.text()
    const typo = await proxy.reload('static_resources: {listeners: []}\nbogus: 1\n')
    t.equal(typo.status, 400)
    t.match(typo.body, /bogus/)
  }),
)
