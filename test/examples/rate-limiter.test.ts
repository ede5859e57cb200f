// The rate-limiter example (examples/rate-limiter/filter.ts): through libnodevoy on the dev host with
// two workers, and through the testing kit with a fake clock.
import t from 'tap'
import { Agent, request } from 'undici'
import { bootstrap } from '../harness/config.js'
import { filterModule } from '../harness/kit.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { runExpectingFailure, startProxy } from '../harness/proxy.js'
import { forEachTarget } from '../harness/targets.js'
import { testFilter } from '../../sdk/testing/index.js'

const ENTRY = 'examples/rate-limiter/filter.ts'

t.test('the limit holds across workers; routes override it', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled(ENTRY)
    const proxy = await startProxy(
      target,
      bootstrap({
        filters: [nodevoyFilter({ name: 'rate-limiter', bundle, config: { limit: 20, clientHeader: 'x-api-key', windowMs: 3_600_000 } })], // an hour: no window edge mid-test
        routes: [
          { prefix: '/free', directResponse: { status: 200, body: 'free' }, perFilter: { 'rate-limiter': { module: 'nodevoy', filterName: 'rate-limiter', config: { config: { disabled: true } } } } },
          { prefix: '/strict', directResponse: { status: 200, body: 'strict' }, perFilter: { 'rate-limiter': { module: 'nodevoy', filterName: 'rate-limiter', config: { config: { limit: 2 } } } } },
          { prefix: '/', directResponse: { status: 200, body: 'ok' } },
        ],
      }),
      { concurrency: 2 },
    )
    t.teardown(() => proxy.stop())
    const key = `client-${Date.now()}`
    const agent = new Agent({ connections: 16 })
    t.teardown(() => agent.close())
    const results = await Promise.all(
      Array.from({ length: 60 }, async () => {
        const res = await request(`${proxy.url}/api`, { headers: { 'x-api-key': key }, dispatcher: agent })
        await res.body.text()
        return res
      }),
    )
    const statuses = results.map((r) => r.statusCode)
    t.equal(statuses.filter((s) => s === 200).length, 20, '20 of 60 concurrent requests pass')
    t.equal(statuses.filter((s) => s === 429).length, 40, 'the rest are limited')
    const limited = results.find((r) => r.statusCode === 429)!
    t.equal(limited.headers['x-ratelimit-remaining'], '0')
    t.ok(Number(limited.headers['retry-after']) >= 1, 'retry-after says when')
    // A window is per client and per route config.
    let res = await request(`${proxy.url}/free`, { headers: { 'x-api-key': key } })
    t.equal((await res.body.text(), res.statusCode), 200, 'a route with the limit disabled')
    const strict = []
    for (let i = 0; i < 3; i++) {
      res = await request(`${proxy.url}/strict`, { headers: { 'x-api-key': `${key}-strict` } })
      await res.body.text()
      strict.push(res.statusCode)
    }
    t.same(strict, [200, 200, 429], "a route's own limit")
    const stats = await proxy.stats()
    t.equal(stats.get('dynamicmodulescustom.requests.decision.allowed'), '22', 'metrics: allowed')
    t.equal(stats.get('dynamicmodulescustom.requests.decision.limited'), '41', 'metrics: limited')
    t.equal(stats.get('dynamicmodulescustom.requests.decision.unlimited'), '1', 'metrics: unlimited')
  }),
)

t.test('a bad route config is refused when routes load', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled(ENTRY)
    const out = await runExpectingFailure(
      target,
      bootstrap({
        filters: [nodevoyFilter({ name: 'rate-limiter', bundle, config: { limit: 20 } })],
        routes: [{ prefix: '/', directResponse: { status: 200 }, perFilter: { 'rate-limiter': { module: 'nodevoy', filterName: 'rate-limiter', config: { config: { limit: 0 } } } } }],
      }),
    )
    t.match(out.output, /per-route config 'rate-limiter' refused: .*filter_config\.config\.limit/)
  }),
)

t.test('in the testing kit: the window moves with the clock', async (t) => {
  const filter = testFilter(await filterModule(ENTRY), { config: { limit: 2, windowMs: 60000, clientHeader: 'x-api-key' } })
  // Start at the beginning of a window, so the test never straddles one.
  await filter.clock.advance(60000 - (filter.clock.now() % 60000))
  const send = async () => (await filter.request({ headers: { 'x-api-key': 'k' } })).status
  t.same([await send(), await send(), await send()], [200, 200, 429])
  await filter.clock.advance(60000)
  t.equal(await send(), 200, 'a new window')
  t.equal(filter.metric('requests', { decision: 'limited' }), 1)
  t.equal(filter.metric('clients'), 1, 'the background task reset the gauge, then one client came')
  const route = await filter.request({ headers: { 'x-api-key': 'k' }, routeConfig: { disabled: true } })
  t.equal(route.status, 200)
  t.equal(route.headers['x-ratelimit-remaining'], undefined, 'no limit on that route')
  filter.destroy()
})
