// Metrics declared in defineFilter (issue 10): defined at config time, updated from hooks and from
// background work, visible in /stats and /stats/prometheus under Envoy's names; bad use is a clear
// error; a per-metric cap bounds the label-value combinations.
import t from 'tap'
import { request } from 'undici'
import { bootstrap } from '../harness/config.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { startProxy, type Proxy } from '../harness/proxy.js'
import { forEachTarget } from '../harness/targets.js'

async function send(proxy: Proxy, headers: Record<string, string>, method = 'GET') {
  const res = await request(`${proxy.url}/`, { method, headers })
  await res.body.text()
  return res
}

async function prometheus(proxy: Proxy): Promise<string> {
  const res = await request(`${proxy.adminUrl}/stats/prometheus`)
  return res.body.text()
}

async function waitForStat(proxy: Proxy, name: string, atLeast: number): Promise<number> {
  const deadline = Date.now() + 10_000
  let value: number | undefined
  while (Date.now() < deadline) {
    value = await proxy.stat(name)
    if (value !== undefined && value >= atLeast) return value
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`${name} stayed at ${value} (wanted >= ${atLeast})`)
}

t.test('declared metrics appear under Envoy names and Prometheus tags', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/features.ts')
    const proxy = await startProxy(
      target,
      bootstrap({
        filters: [{ ...nodevoyFilter({ name: 'features', bundle }), metricsNamespace: 'myfilters' }],
        routes: [{ prefix: '/', directResponse: { status: 200 } }],
      }),
      { concurrency: 2 },
    )
    t.teardown(() => proxy.stop())
    for (let i = 0; i < 3; i++) await send(proxy, { 'x-action': 'count', 'x-decision': 'allow' })
    await send(proxy, { 'x-action': 'count', 'x-decision': 'deny' }, 'POST')
    const stats = await proxy.stats()
    t.equal(stats.get('myfilters.requests.decision.allow.method.GET'), '3', 'labelled counter: <ns>.<name>.<label>.<value>...')
    t.equal(stats.get('myfilters.requests.decision.deny.method.POST'), '1')
    t.equal(stats.get('myfilters.inflight'), '0', 'gauge went up and down')
    t.match(stats.get('myfilters.latency_us'), /^P0\(nan,\d+\)/, 'histogram recorded')
    const text = await prometheus(proxy)
    t.match(text, /# TYPE envoy_myfilters_requests counter\n/, 'one family for the labelled counter')
    t.match(text, /envoy_myfilters_requests\{decision="allow",method="GET"\} 3\n/, 'labels as Prometheus tags')
    t.match(text, /envoy_myfilters_requests\{decision="deny",method="POST"\} 1\n/)
    t.match(text, /# TYPE envoy_myfilters_latency_us histogram\n/)
    t.match(text, /envoy_myfilters_latency_us_count\{\} 4\n/, 'histogram count')
    t.match(text, /envoy_myfilters_inflight\{\} 0\n/)
  }),
)

t.test('bad use of a metric is a clear error', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/features.ts')
    const proxy = await startProxy(
      target,
      bootstrap({ filters: [nodevoyFilter({ name: 'features', bundle })], routes: [{ prefix: '/', directResponse: { status: 200 } }] }),
    )
    t.teardown(() => proxy.stop())
    const misuse = async (kind: string) => {
      const res = await send(proxy, { 'x-action': 'misuse', 'x-misuse': kind })
      return { message: String(res.headers['x-error']), code: String(res.headers['x-code']) }
    }
    const undeclared = await misuse('undeclared')
    t.match(undeclared.message, "filter 'features' declares no metric 'nope' (declared: requests, inflight, latency_us, ticks, last_tick_worker)")
    t.equal(undeclared.code, 'NODEVOY_ERR_INVALID_ARGUMENT')
    t.match((await misuse('missing-label')).message, "metric 'requests' takes labels decision, method; got decision")
    t.match((await misuse('extra-label')).message, "metric 'requests' takes labels decision, method; got decision, method, zone")
    t.match((await misuse('outside-set')).message, 'label decision = "maybe" is not one of its declared values (allow, deny)')
    t.match((await misuse('no-labels')).message, "metric 'requests' takes labels decision, method: pass them first")
    t.match((await misuse('negative')).message, "metric 'inflight': the value must be a non-negative number, got -1")
  }),
)

t.test('a per-metric cap folds new label combinations into "overflow"', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/features.ts')
    const proxy = await startProxy(
      target,
      bootstrap({ filters: [nodevoyFilter({ name: 'features', bundle })], routes: [{ prefix: '/', directResponse: { status: 200 } }] }),
      { concurrency: 2 },
    )
    t.teardown(() => proxy.stop())
    // maxSeries is 3 for requests: three combinations are kept, later new ones fold, on every worker.
    const methods = ['A', 'B', 'C', 'D', 'E', 'F', 'A']
    for (const method of methods) {
      const res = await send(proxy, { 'x-action': 'misuse', 'x-misuse': 'cardinality', 'x-method': method })
      t.equal(res.headers['x-error'], 'none', `method ${method} recorded without error`)
    }
    const stats = await proxy.stats()
    const series = [...stats.keys()].filter((k) => k.startsWith('dynamicmodulescustom.requests.'))
    t.same(
      series.sort(),
      [
        'dynamicmodulescustom.requests.decision.allow.method.A',
        'dynamicmodulescustom.requests.decision.allow.method.B',
        'dynamicmodulescustom.requests.decision.allow.method.C',
        'dynamicmodulescustom.requests.decision.overflow.method.overflow',
      ],
      'three series kept, the rest in one overflow series',
    )
    t.equal(stats.get('dynamicmodulescustom.requests.decision.allow.method.A'), '2')
    t.equal(stats.get('dynamicmodulescustom.requests.decision.overflow.method.overflow'), '3')
    await proxy.waitForLog(/metric 'requests' reached its cap of 3 label-value combinations/)
  }),
)

t.test('background work updates metrics without traffic (config-level)', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/features.ts')
    const proxy = await startProxy(
      target,
      bootstrap({
        filters: [nodevoyFilter({ name: 'features', bundle, config: { tickMs: 20 } })],
        routes: [{ prefix: '/', directResponse: { status: 200 } }],
      }),
      { concurrency: 2 },
    )
    t.teardown(() => proxy.stop())
    // No request is sent: both workers' environments tick on their own.
    const ticks = await waitForStat(proxy, 'dynamicmodulescustom.ticks', 20)
    t.ok(ticks >= 20, `ticks counted with no traffic (${ticks})`)
    const stats = await proxy.stats()
    t.ok(Number(stats.get('dynamicmodulescustom.last_tick_worker.worker.0')) > 0, 'worker 0 set its labelled gauge')
    t.ok(Number(stats.get('dynamicmodulescustom.last_tick_worker.worker.1')) > 0, 'worker 1 set its labelled gauge')
  }),
)
