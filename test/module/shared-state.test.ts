// State shared across workers (issue 10): the process-wide store in native memory, seen by every
// worker's Node environment, with atomic operations.
import t from 'tap'
import { Agent, request } from 'undici'
import { bootstrap } from '../harness/config.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { startProxy, type Proxy } from '../harness/proxy.js'
import { devHostOnly, forEachTarget } from '../harness/targets.js'

async function shared(proxy: Proxy, headers: Record<string, string>, dispatcher?: Agent): Promise<unknown> {
  const res = await request(`${proxy.url}/`, { headers: { 'x-action': 'shared', ...headers }, dispatcher })
  await res.body.text()
  return JSON.parse(String(res.headers['x-result']))
}

t.test('a per-client limit of N per minute holds exactly across two workers under concurrent load', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/features.ts')
    const limit = 50
    const proxy = await startProxy(
      target,
      bootstrap({
        filters: [nodevoyFilter({ name: 'features', bundle, config: { limit } })],
        routes: [{ prefix: '/', directResponse: { status: 200 } }],
      }),
      { concurrency: 2 },
    )
    t.teardown(() => proxy.stop())
    const window = `test-${Date.now()}`
    const total = 400
    const agent = new Agent({ connections: 32, pipelining: 1 })
    t.teardown(() => agent.close())
    const statuses = new Map<number, number>()
    const workers = new Map<string, number>()
    const counts: number[] = []
    await Promise.all(
      Array.from({ length: total }, async () => {
        const res = await request(`${proxy.url}/`, {
          headers: { 'x-action': 'limit', 'x-client': 'alice', 'x-window': window },
          dispatcher: agent,
        })
        await res.body.text()
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
        const worker = String(res.headers['x-worker'])
        workers.set(worker, (workers.get(worker) ?? 0) + 1)
        counts.push(Number(res.headers['x-count']))
      }),
    )
    t.equal(statuses.get(200), limit, `exactly ${limit} admitted`)
    t.equal(statuses.get(429), total - limit, `the other ${total - limit} refused`)
    t.same([...workers.keys()].sort(), ['0', '1'], `both workers served the client (${JSON.stringify(Object.fromEntries(workers))})`)
    t.same([...counts].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i + 1), 'every increment saw a distinct count: none lost, none doubled')
    // Another client has its own budget.
    const res = await request(`${proxy.url}/`, { headers: { 'x-action': 'limit', 'x-client': 'bob', 'x-window': window } })
    await res.body.text()
    t.equal(res.statusCode, 200)
    t.equal(res.headers['x-count'], '1')
  }),
)

t.test('get, set with TTL, compare-and-set, delete, and errors', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/features.ts')
    const proxy = await startProxy(
      target,
      bootstrap({ filters: [nodevoyFilter({ name: 'features', bundle })], routes: [{ prefix: '/', directResponse: { status: 200 } }] }),
      { concurrency: 2 },
    )
    t.teardown(() => proxy.stop())
    const key = `k-${Date.now()}`
    t.equal(await shared(proxy, { 'x-op': 'get', 'x-key': key }), null, 'absent')
    t.equal(await shared(proxy, { 'x-op': 'set', 'x-key': key, 'x-value': 'v1' }), 'ok')
    // Fresh connections land on either worker: every one sees the value.
    const seen = new Set<unknown>()
    for (let i = 0; i < 8; i++) {
      const agent = new Agent()
      seen.add(await shared(proxy, { 'x-op': 'get', 'x-key': key }, agent))
      await agent.close()
    }
    t.same([...seen], ['v1'], 'every worker reads the same value')
    t.equal(await shared(proxy, { 'x-op': 'cas', 'x-key': key, 'x-expected': 'nope', 'x-value': 'v2' }), false, 'CAS with a wrong expectation fails')
    t.equal(await shared(proxy, { 'x-op': 'cas', 'x-key': key, 'x-expected': 'v1', 'x-value': 'v2' }), true, 'CAS with the right one swaps')
    t.equal(await shared(proxy, { 'x-op': 'get', 'x-key': key }), 'v2')
    t.equal(await shared(proxy, { 'x-op': 'cas', 'x-key': `${key}-new`, 'x-value': 'first' }), true, 'CAS on an absent key (expected undefined) creates it')
    t.equal(await shared(proxy, { 'x-op': 'cas', 'x-key': `${key}-new`, 'x-value': 'second' }), false, '...once')
    t.equal(await shared(proxy, { 'x-op': 'delete', 'x-key': key }), true)
    t.equal(await shared(proxy, { 'x-op': 'delete', 'x-key': key }), false)
    t.equal(await shared(proxy, { 'x-op': 'set', 'x-key': key, 'x-value': 'short', 'x-ttl': '100' }), 'ok')
    t.equal(await shared(proxy, { 'x-op': 'get', 'x-key': key }), 'short')
    await new Promise((r) => setTimeout(r, 200))
    t.equal(await shared(proxy, { 'x-op': 'get', 'x-key': key }), null, 'gone after its TTL')
    t.equal(await shared(proxy, { 'x-op': 'increment', 'x-key': `${key}-n`, 'x-value': '5' }), 5)
    t.equal(await shared(proxy, { 'x-op': 'increment', 'x-key': `${key}-n`, 'x-value': '-2' }), 3)
    // increment on a string: the filter's hook throws, the request fails closed (500).
    await shared(proxy, { 'x-op': 'set', 'x-key': `${key}-s`, 'x-value': 'text' })
    const res = await request(`${proxy.url}/`, { headers: { 'x-action': 'shared', 'x-op': 'increment', 'x-key': `${key}-s` } })
    await res.body.text()
    t.equal(res.statusCode, 500)
    await proxy.waitForLog(/shared\.increment: the key holds a string, not a number/)
  }),
)

t.test('the store outlives a config reload', (t) =>
  devHostOnly(t, async (t) => {
    const target = 'devhost'
    const bundle = await bundled('test/filters/features.ts')
    const config = (limit: number) =>
      bootstrap({
        filters: [nodevoyFilter({ name: 'features', bundle, config: { limit } })],
        routes: [{ prefix: '/', directResponse: { status: 200 } }],
      })
    const proxy = await startProxy(target, config(10))
    t.teardown(() => proxy.stop())
    const key = `reload-${Date.now()}`
    await shared(proxy, { 'x-op': 'set', 'x-key': key, 'x-value': 'kept' })
    const reloaded = await proxy.reload(config(20))
    t.equal(reloaded.status, 200, 'reloaded')
    t.equal(await shared(proxy, { 'x-op': 'get', 'x-key': key }), 'kept', 'the value set before the reload is still there')
  }),
)
