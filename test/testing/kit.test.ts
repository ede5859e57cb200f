// nodevoy/testing: what the scenario table does not cover — the fake clock driving background work
// and settle timeouts, fake clusters (answers, failures, timeouts), the shared store across two
// "workers", metrics (labels, cap, misuse), config and route-config refusals, client disconnects.
import t from 'tap'
import { ConfigError, FakeClock, FakeSharedStore, testFilter } from '../../sdk/testing/index.js'
import { filterModule } from '../harness/kit.js'

t.test('background work runs on the fake clock and stops with the config', async (t) => {
  const features = await filterModule('test/filters/features.ts')
  const filter = testFilter(features, { config: { tickMs: 100 } })
  t.equal(filter.metric('ticks'), undefined, 'nothing before the clock moves')
  await filter.clock.advance(1000)
  t.equal(filter.metric('ticks'), 10, 'one tick per 100 ms')
  t.equal(filter.metric('last_tick_worker', { worker: '0' }), 10, 'a labelled gauge set from background work')
  filter.destroy()
  await filter.clock.advance(1000)
  t.equal(filter.metric('ticks'), 10, 'no tick after the config is gone')
  t.equal(filter.clock.pending, 0, 'no timer left')
})

t.test('two test filters sharing one store stand for two workers', async (t) => {
  const features = await filterModule('test/filters/features.ts')
  const clock = new FakeClock()
  const shared = new FakeSharedStore({ clock })
  const workers = [0, 1].map((workerIndex) => testFilter(features, { config: { limit: 3 }, workerIndex, clock, shared }))
  const statuses: number[] = []
  for (let i = 0; i < 6; i++) {
    const res = await workers[i % 2]!.request({ headers: { 'x-action': 'limit', 'x-client': 'alice', 'x-window': 'w1' } })
    statuses.push(res.status)
    t.equal(res.headers['x-worker'], String(i % 2))
  }
  t.same(statuses, [200, 200, 200, 429, 429, 429], 'the limit holds across both')
  // TTLs follow the fake clock.
  await workers[0]!.request({ headers: { 'x-action': 'shared', 'x-op': 'set', 'x-key': 'k', 'x-value': 'v', 'x-ttl': '500' } })
  await clock.advance(499)
  let res = await workers[1]!.request({ headers: { 'x-action': 'shared', 'x-op': 'get', 'x-key': 'k' } })
  t.equal(res.headers['x-result'], '"v"')
  await clock.advance(1)
  res = await workers[1]!.request({ headers: { 'x-action': 'shared', 'x-op': 'get', 'x-key': 'k' } })
  t.equal(res.headers['x-result'], 'null', 'expired after its TTL')
  for (const w of workers) w.destroy()
})

t.test('metrics: labels, the series cap, and misuse', async (t) => {
  const features = await filterModule('test/filters/features.ts')
  const filter = testFilter(features)
  for (const method of ['A', 'B', 'C', 'D', 'E']) {
    await filter.request({ headers: { 'x-action': 'misuse', 'x-misuse': 'cardinality', 'x-method': method } })
  }
  t.same(
    Object.keys(filter.metrics()).filter((k) => k.startsWith('requests.')).sort(),
    ['requests.decision.allow.method.A', 'requests.decision.allow.method.B', 'requests.decision.allow.method.C', 'requests.decision.overflow.method.overflow'],
  )
  t.equal(filter.metric('requests', { decision: 'overflow', method: 'overflow' }), 2)
  t.ok(filter.logs.some((l) => l.level === 'warn' && /reached its cap of 3/.test(l.message)), 'the cap is logged')
  const res = await filter.request({ headers: { 'x-action': 'misuse', 'x-misuse': 'outside-set' } })
  t.match(res.headers['x-error'], 'label decision = "maybe" is not one of its declared values (allow, deny)')
  await filter.request({ headers: { 'x-action': 'count' } })
  const latency = filter.metric('latency_us') as number[]
  t.equal(latency.length, 1, 'one histogram value recorded')
  t.ok(Number.isInteger(latency[0]) && latency[0]! >= 0, 'rounded to a non-negative integer')
  t.throws(() => filter.metric('nope'), /no metric named 'nope' is declared/)
  filter.destroy()
})

t.test('configs and route configs are refused as Envoy would, naming the field', async (t) => {
  const features = await filterModule('test/filters/features.ts')
  t.throws(() => testFilter(features, { config: { limit: 'many' } }), { name: 'ConfigError', message: /limit/ })
  try {
    testFilter(features, { config: { limit: -1 } })
    t.fail('refused')
  } catch (error) {
    t.ok(error instanceof ConfigError, 'a ConfigError')
    t.same((error as ConfigError).issues[0]!.path, ['limit'])
  }
  const filter = testFilter(features)
  await t.rejects(filter.request({ headers: { 'x-action': 'route' }, routeConfig: { limit: 'x' } }), { message: /filter_config\.config\.limit/ })
  filter.destroy()
})

t.test('callouts to fake clusters: answers, failures, timeouts, aborts', async (t) => {
  const callouts = await filterModule('test/filters/callouts.ts')
  const seen: string[] = []
  const filter = testFilter(callouts, {
    clusters: {
      service: (req) => {
        seen.push(`${req.method} ${req.path} ${req.authority} ${Buffer.from(req.body).toString()}`)
        if (req.path === '/chunks') return { status: 200, body: ['part0;', 'part1;'], trailers: { 'x-response-trailer': 'done' } }
        if (req.path === '/slow') return new Promise(() => {})
        return { status: 200, headers: { 'x-seen-x-from-filter': req.headers.find(([k]) => k === 'x-from-filter')?.[1] ?? '' }, body: 'echo' }
      },
      dead: () => 'unreachable',
      flaky: () => 'reset',
    },
  })
  let res = await filter.request({ headers: { 'x-method': 'POST', 'x-body': 'hi' } })
  t.equal(res.headers['x-callout-status'], '200')
  t.equal(decodeURIComponent(res.headers['x-callout-body']!), 'echo')
  t.equal(res.headers['x-callout-header-x-from-filter'], 'yes')
  t.equal(seen.at(-1), 'POST /echo service hi', ':authority defaults to the cluster name')
  res = await filter.request({ headers: { 'x-path': '/chunks' } })
  t.equal(decodeURIComponent(res.headers['x-callout-body']!), 'part0;part1;')
  t.equal(res.headers['x-callout-chunks'], '2')
  t.equal(res.headers['x-callout-trailer'], 'done')
  res = await filter.request({ headers: { 'x-body-chunks': '3', 'x-trailer': 'end' } })
  t.equal(seen.at(-1), 'POST /echo service chunk0|chunk1|chunk2|', 'a streamed request body arrives whole')
  res = await filter.request({ headers: { 'x-cluster': 'nowhere' } })
  t.equal(res.headers['x-error-reason'], 'cluster_not_found')
  res = await filter.request({ headers: { 'x-cluster': 'dead' } })
  t.equal(res.headers['x-callout-status'], '503', "an unreachable upstream is Envoy's 503")
  res = await filter.request({ headers: { 'x-cluster': 'flaky' } })
  t.equal(res.headers['x-error-reason'], 'reset:local_reset')
  const slow = filter.request({ headers: { 'x-path': '/slow', 'x-timeout': '250' } })
  await filter.clock.advance(250)
  res = await slow
  t.equal(res.headers['x-callout-status'], '504', 'the callout timeout on the fake clock')
  res = await filter.request({ headers: { 'x-path': '/slow', 'x-abort-after': '20' } })
  t.equal(res.headers['x-error-name'], 'TimeoutError', 'an AbortSignal ends it')
  filter.destroy()
})

t.test('a hook that never settles is answered at its settle timeout', async (t) => {
  const callouts = await filterModule('test/filters/callouts.ts')
  const filter = testFilter(callouts, { settleTimeoutMs: 1000, clusters: { service: () => new Promise(() => {}) } })
  const pending = filter.request({ headers: { 'x-path': '/slow' } })
  await filter.clock.advance(999)
  let settled = false
  void pending.then(() => (settled = true))
  await filter.clock.advance(0)
  t.equal(settled, false, 'still held before the timeout')
  await filter.clock.advance(1)
  const res = await pending
  t.equal(res.status, 504)
  t.equal(res.details, 'nodevoy_hook_timeout')
  filter.destroy()
})

t.test('a client that goes away ends the stream: a detached callout is aborted with it', async (t) => {
  const callouts = await filterModule('test/filters/callouts.ts')
  const filter = testFilter(callouts, { clusters: { service: () => new Promise(() => {}) } })
  const res = await filter.request({ headers: { 'x-path': '/slow', 'x-detach': 'outcome' } })
  t.equal(res.status, 200, 'the request went on to the upstream')
  t.equal(filter.shared.get('outcome'), 'AbortError: the stream is complete (its response was sent, or it was reset)', 'the callout ended with its stream')
  let hangUp!: () => void
  const gone = filter.request({ headers: { 'x-path': '/slow' }, disconnect: new Promise<void>((r) => (hangUp = r)) })
  setTimeout(() => hangUp(), 20)
  const reset = await gone
  t.equal(reset.reset, true, 'the stream was reset')
  t.equal(reset.details, 'downstream_remote_disconnect')
  t.equal(reset.upstream, undefined)
  filter.destroy()
})
