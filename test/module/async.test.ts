// Async hooks resume on their worker: timers and fetch() under concurrent load on two workers.
import t from 'tap'
import { Agent, request } from 'undici'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { startProxyWithUpstream } from '../harness/stack.js'
import { forEachTarget } from '../harness/targets.js'
import { startUpstream } from '../harness/upstream.js'

t.test('awaiting a timer and fetch: 2 workers x 100 concurrent requests all complete, in order', (t) =>
  forEachTarget(t, async (t, target) => {
    const lookup = await startUpstream()  // the service the filter fetch()es
    t.teardown(() => lookup.close())
    const bundle = await bundled('test/filters/async.ts')
    const { proxy } = await startProxyWithUpstream(
      t,
      target,
      { filters: [nodevoyFilter({ name: 'async', bundle, config: { fetchUrl: `http://127.0.0.1:${lookup.port}` } })] },
      { concurrency: 2 },
    )
    const agent = new Agent({ connections: 200, pipelining: 1 })
    t.teardown(() => agent.close())
    const ids = Array.from({ length: 200 }, (_, i) => `r${i}`)
    const results = await Promise.all(
      ids.map(async (id) => {
        const res = await request(`${proxy.url}/a/${id}`, { dispatcher: agent, headers: { 'x-id': id, 'x-delay': String(1 + (id.length % 7)) } })
        const body = (await res.body.json()) as { headers: Record<string, string> }
        return { id, status: res.statusCode, trace: res.headers['x-trace'], worker: res.headers['x-worker'], upstream: body.headers }
      }),
    )
    let inOrder = 0
    for (const r of results) {
      t.equal(r.status, 200, `${r.id} completed`)
      const expected = `request,after-timer,after-fetch:${r.id}`
      if (r.trace === `${expected},response` && r.upstream['x-trace-request'] === expected) inOrder++
      else t.fail(`${r.id}: trace ${r.trace}, upstream saw ${r.upstream['x-trace-request']}`)
    }
    t.equal(inOrder, 200, 'every stream saw its events in order, and the upstream saw the edit made after the awaits')
    const workers = new Set(results.map((r) => r.worker))
    t.same([...workers].sort(), ['0', '1'], 'both workers served requests')
    t.equal(lookup.requests.length, 200, 'each stream fetched once')
    if (target === 'devhost') {
      t.equal(await proxy.stat('devhost.abi_violation'), undefined, 'every Envoy call happened on the stream\'s worker, inside a hook')
    }
  }),
)
