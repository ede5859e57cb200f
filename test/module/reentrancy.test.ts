// Regressions from a review of libnodevoy's threading: nested hooks, continuing in the same tick,
// async stream completion, unref'd timers.
import t from 'tap'
import { request } from 'undici'
import { bootstrap } from '../harness/config.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { startProxy, type Proxy } from '../harness/proxy.js'
import { forEachTarget } from '../harness/targets.js'

const setup = async (target: 'devhost' | 'envoy', config: Record<string, unknown>) =>
  startProxy(
    target,
    bootstrap({
      filters: [nodevoyFilter({ name: 'reentrancy', bundle: await bundled('test/filters/reentrancy.ts'), config })],
      routes: [{ prefix: '/', directResponse: { status: 200, body: 'through' } }],
    }),
    { concurrency: 1 },
  )

async function ticks(proxy: Proxy): Promise<{ ticks: number; nested: number }> {
  const res = await request(`${proxy.url}/ticks`)
  return (await res.body.json()) as { ticks: number; nested: number }
}

// Envoy (every release) only prepares a local reply sent while a request hook runs and encodes it once
// the hook has returned (envoy-facts §3), so onStreamComplete never runs nested inside onRequestHeaders.
t.test('a local reply from onRequestHeaders, with a busy background timer: onStreamComplete after the hook', (t) =>
  forEachTarget(t, async (t, target) => {
    const proxy = await setup(target, { intervalMs: 1 })
    t.teardown(() => proxy.stop())
    for (let i = 0; i < 100; i++) {
      const res = await request(`${proxy.url}/reply`)
      t.equal(res.statusCode, 403)
      await res.body.text()
    }
    const { nested } = await ticks(proxy)
    t.equal(nested, 0, 'onStreamComplete ran after the hook returned, never nested inside it')
    const after = await request(`${proxy.url}/`)
    t.equal(after.statusCode, 200, 'the proxy still serves')
    await after.body.text()
  }),
)

t.test("'stop' continued from a microtask, nextTick, timer, unref'd timer or AbortSignal.timeout", (t) =>
  forEachTarget(t, async (t, target) => {
    const proxy = await setup(target, {})
    t.teardown(() => proxy.stop())
    for (const path of ['/stop-micro', '/stop-tick', '/stop-timer', '/stop-unref', '/stop-abort']) {
      const res = await request(`${proxy.url}${path}`, { headersTimeout: 10_000 })
      t.equal(res.statusCode, 200, `${path}: continued`)
      t.equal(await res.body.text(), 'through')
    }
  }),
)

t.test('an async onStreamComplete does not stall the event loop', (t) =>
  forEachTarget(t, async (t, target) => {
    const proxy = await setup(target, { intervalMs: 10, asyncComplete: true })
    t.teardown(() => proxy.stop())
    for (let i = 0; i < 5; i++) await (await request(`${proxy.url}/`)).body.text()
    const before = (await ticks(proxy)).ticks
    const deadline = Date.now() + 10_000
    let now = before
    while (now < before + 10 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50))
      now = (await ticks(proxy)).ticks
    }
    t.ok(now >= before + 10, `the background interval keeps firing (${before} -> ${now})`)
  }),
)
