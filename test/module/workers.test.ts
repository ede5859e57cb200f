// One Node environment per Envoy worker.
import t from 'tap'
import { Agent, request } from 'undici'
import { bootstrap } from '../harness/config.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { startProxy } from '../harness/proxy.js'
import { forEachTarget } from '../harness/targets.js'

t.test('each worker runs the filter in its own environment', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/worker-identity.ts')
    const proxy = await startProxy(
      target,
      bootstrap({
        filters: [nodevoyFilter({ name: 'who', bundle })],
        routes: [{ prefix: '/', directResponse: { status: 200, body: 'ok' } }],
      }),
      { concurrency: 2 },
    )
    t.teardown(() => proxy.stop())
    const environments = new Map<string, Set<string>>()  // worker -> environment ids
    for (let round = 0; round < 40 && environments.size < 2; round++) {
      const agent = new Agent({ connections: 8 })  // new connections spread over the workers
      const responses = await Promise.all(
        Array.from({ length: 8 }, () => request(`${proxy.url}/`, { dispatcher: agent })),
      )
      for (const res of responses) {
        await res.body.text()
        const worker = String(res.headers['x-worker'])
        t.equal(res.headers['x-created-for-worker'], worker, 'the instance was created for the worker running it')
        t.equal(res.headers['x-webcrypto'], 'function', 'globalThis.crypto (WebCrypto) is there, as in Node >= 19')
        if (!environments.has(worker)) environments.set(worker, new Set())
        environments.get(worker)!.add(String(res.headers['x-environment']))
      }
      await agent.close()
    }
    t.same([...environments.keys()].sort(), ['0', '1'], 'both worker indices seen')
    for (const [worker, ids] of environments) t.equal(ids.size, 1, `worker ${worker} always used one environment`)
    const [a, b] = [...environments.values()].map((ids) => [...ids][0])
    t.not(a, b, 'and the two workers used different environments')
  }),
)
