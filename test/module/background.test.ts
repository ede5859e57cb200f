// Background work (issue 10): per-worker tasks that run without traffic, stopped when their config
// is replaced; per-stream timers that end with their stream.
import t from 'tap'
import { request } from 'undici'
import { bootstrap } from '../harness/config.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { startProxy, type Proxy } from '../harness/proxy.js'
import { devHostOnly, forEachTarget } from '../harness/targets.js'

async function shared(proxy: Proxy, key: string): Promise<unknown> {
  const res = await request(`${proxy.url}/`, { headers: { 'x-action': 'shared', 'x-op': 'get', 'x-key': key } })
  await res.body.text()
  return JSON.parse(String(res.headers['x-result']))
}

const config = (bundle: string, tag: string) =>
  bootstrap({
    filters: [nodevoyFilter({ name: 'features', bundle, config: { tag, tickMs: 20 } })],
    routes: [{ prefix: '/', directResponse: { status: 200 } }],
  })

t.test("a config's background tasks run on every worker and stop when it is replaced", (t) =>
  devHostOnly(t, async (t) => {
    const bundle = await bundled('test/filters/features.ts')
    const proxy = await startProxy('devhost', config(bundle, 'first'), { concurrency: 2 })
    t.teardown(() => proxy.stop())
    const waitFor = async (cond: () => Promise<boolean>, what: string) => {
      const deadline = Date.now() + 10_000
      while (!(await cond()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      t.ok(await cond(), what)
    }
    await waitFor(async () => Number(await shared(proxy, 'features:ticks:first:0')) > 5 && Number(await shared(proxy, 'features:ticks:first:1')) > 5, 'both workers tick')
    const reloaded = await proxy.reload(config(bundle, 'second'))
    t.equal(reloaded.status, 200)
    await waitFor(async () => Number(await shared(proxy, 'features:ticks:second:0')) > 5, 'the new config ticks')
    const before = [Number(await shared(proxy, 'features:ticks:first:0')), Number(await shared(proxy, 'features:ticks:first:1'))]
    await new Promise((r) => setTimeout(r, 300))
    const after = [Number(await shared(proxy, 'features:ticks:first:0')), Number(await shared(proxy, 'features:ticks:first:1'))]
    t.same(after, before, "the old config's tasks stopped (no tick in 300 ms at a 20 ms interval)")
  }),
)

t.test('a per-stream timer ends with its stream', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/features.ts')
    const proxy = await startProxy(target, config(bundle, 'timers'))
    t.teardown(() => proxy.stop())
    const key = `w-${Date.now()}`
    const controller = new AbortController()
    const pending = request(`${proxy.url}/`, { headers: { 'x-action': 'wait', 'x-key': key }, signal: controller.signal }).catch((e) => e)
    await new Promise((r) => setTimeout(r, 200))
    controller.abort()  // the client goes away: the stream is reset
    await pending
    const deadline = Date.now() + 5000
    let outcome: unknown = null
    while (outcome === null && Date.now() < deadline) {
      outcome = await shared(proxy, `features:wait:${key}`)
      if (outcome === null) await new Promise((r) => setTimeout(r, 50))
    }
    t.equal(outcome, 'AbortError', 'the timer was cancelled by the stream signal, long before its 5 s')
  }),
)
