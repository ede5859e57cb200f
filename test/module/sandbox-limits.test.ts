// Issue 11: CPU and heap budgets, environment rebuilds and settle timeouts. A fault costs its own
// request (and, when its environment must be replaced, that worker's streams of the moment); the
// proxy never stops.
import t from 'tap'
import { request } from 'undici'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import type { Proxy } from '../harness/proxy.js'
import { startProxyWithUpstream } from '../harness/stack.js'
import { forEachTarget } from '../harness/targets.js'

const budgets = { NODEVOY_CPU_BUDGET_MS: '50', NODEVOY_LOOP_BUDGET_MS: '200', NODEVOY_NODE_OPTIONS: '--max-old-space-size=96' }

async function get(proxy: Proxy, path: string) {
  const started = Date.now()
  const res = await request(`${proxy.url}${path}`, { headersTimeout: 20_000, bodyTimeout: 20_000 })
  const body = await res.body.text()
  return { status: res.statusCode, env: res.headers['x-env'] as string | undefined, body, ms: Date.now() - started }
}

t.test('loops in every place JS runs are stopped; the proxy keeps serving', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/faults.ts')
    const { proxy } = await startProxyWithUpstream(
      t,
      target,
      { filters: [nodevoyFilter({ name: 'faults', bundle })] },
      { concurrency: 1, env: budgets },
    )
    const first = await get(proxy, '/ok')
    t.equal(first.status, 200)

    const sync = await get(proxy, '/loop-sync')
    t.equal(sync.status, 500, `a loop in a hook: 500 after ${sync.ms} ms`)
    await proxy.waitForLog(/filter 'faults' onRequestHeaders on stream \d+ ran over its CPU budget of 50 ms and was stopped/)
    t.equal((await get(proxy, '/ok')).env, first.env, 'the environment goes on')

    const complete = await get(proxy, '/loop-complete')
    t.equal(complete.status, 200, 'a loop in onStreamComplete: the response was already sent')
    await proxy.waitForLog(/onStreamComplete on stream \d+ ran over its CPU budget/)
    t.equal((await get(proxy, '/ok')).env, first.env, 'the environment goes on')

    const timer = await get(proxy, '/loop-timer')
    // Usually already answered when the timer fires 100 ms later; if it is still in flight it shares
    // its environment's fate (500).
    t.ok([200, 500].includes(timer.status), `the request that started a looping timer: ${timer.status}`)
    await proxy.waitForLog(/the watchdog stops JS that ran over its CPU budget of 200 ms \(in a Node callback/)
    // A request that reached the environment before it was stopped is answered 500; later ones go to
    // the rebuilt environment.
    let after = await get(proxy, '/ok')
    for (let i = 0; i < 20 && (after.status !== 200 || after.env === first.env); i++) {
      await new Promise((r) => setTimeout(r, 100))
      after = await get(proxy, '/ok')
    }
    t.equal(after.status, 200, 'a loop in a timer: the next requests are served')
    t.not(after.env, first.env, 'by a rebuilt environment')
    await proxy.waitForLog(/rebuilt the Node environment of worker 0 in [\d.]+ ms/)
    t.ok(((await proxy.stat('dynamicmodulescustom.nodevoy_environment_rebuilds')) ?? 0) >= 1, 'counted in nodevoy_environment_rebuilds')
  }),
)

t.test('async continuations, microtask chains and nextTick loops are stopped', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/faults.ts')
    const { proxy } = await startProxyWithUpstream(
      t,
      target,
      { filters: [nodevoyFilter({ name: 'faults', bundle, settleTimeoutMs: 400 })] },
      { concurrency: 1, env: budgets },
    )
    const base = await get(proxy, '/ok')
    const asyncLoop = await get(proxy, '/loop-async')
    t.ok([500, 504].includes(asyncLoop.status), `a loop after an await: ${asyncLoop.status} after ${asyncLoop.ms} ms`)
    const microtasks = await get(proxy, '/loop-microtasks')
    t.ok([500, 504].includes(microtasks.status), `an endless microtask chain: ${microtasks.status} after ${microtasks.ms} ms`)
    await proxy.waitForLog(/a microtask \(an async continuation\) ran over its CPU budget/)
    const ticks = await get(proxy, '/loop-ticks')
    t.ok([200, 500, 504].includes(ticks.status), `a nextTick loop: ${ticks.status} after ${ticks.ms} ms`)
    let after = await get(proxy, '/ok')
    for (let i = 0; i < 30 && after.status !== 200; i++) after = await get(proxy, '/ok')
    t.equal(after.status, 200, 'the worker serves again')
    t.not(after.env, base.env, 'a nextTick loop that refills itself gets its environment rebuilt')
  }),
)

t.test('a heap blow-up, fast or slow, rebuilds the environment instead of aborting the proxy', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/faults.ts')
    const { proxy } = await startProxyWithUpstream(t, target, { filters: [nodevoyFilter({ name: 'faults', bundle })] }, {
      concurrency: 1,
      env: { ...budgets, NODEVOY_CPU_BUDGET_MS: '10000' },  // the heap runs out first
    })
    const base = await get(proxy, '/ok')
    const fast = await get(proxy, '/heap-fast')
    t.equal(fast.status, 500, `one huge allocation: 500 after ${fast.ms} ms`)
    await proxy.waitForLog(/reached its heap limit/)
    const after = await get(proxy, '/ok')
    t.equal(after.status, 200)
    t.not(after.env, base.env, 'served by a rebuilt environment')
    let slowEnv = after.env
    let requests = 0
    let failed = 0
    while (slowEnv === after.env && requests < 200) {
      const res = await get(proxy, '/heap-slow')
      requests++
      if (res.status !== 200) failed++
      if (res.env) slowEnv = res.env
    }
    t.not(slowEnv, after.env, `a cache growing by ~4 MB per request: rebuilt after ${requests} requests (${failed} failed)`)
    t.ok(failed <= 2, 'only the request that hit the limit (and maybe one in flight) failed')
    t.equal(proxy.process.exitCode, null, 'the proxy never aborted')
    t.ok(((await proxy.stat('dynamicmodulescustom.nodevoy_heap_limit_stops')) ?? 0) >= 2, 'counted in nodevoy_heap_limit_stops')
  }),
)

t.test('a hook that never settles, or a stop never continued, is answered at its settle timeout', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/faults.ts')
    const { proxy } = await startProxyWithUpstream(
      t,
      target,
      { filters: [nodevoyFilter({ name: 'faults', bundle, settleTimeoutMs: 300 })] },
      { concurrency: 1 },
    )
    const never = await get(proxy, '/never-settles')
    t.equal(never.status, 504, `a promise that never settles: 504 after ${never.ms} ms`)
    t.ok(never.ms >= 250, 'not before the timeout')
    t.equal((await get(proxy, '/signal-report')).body, 'TimeoutError: the request hook did not settle in time', "its work is cancelled (the stream's signal)")
    const stopped = await get(proxy, '/never-continues')
    t.equal(stopped.status, 504, `a 'stop' never continued: 504 after ${stopped.ms} ms`)
    await proxy.waitForLog(/onRequestHeaders on stream \d+ did not continue within 300 ms; answering 504/)
    t.equal((await proxy.stat('dynamicmodulescustom.nodevoy_settle_timeouts')) ?? 0, 2, 'counted in nodevoy_settle_timeouts')
  }),
)

t.test('SIGTERM drains and exits even while a worker is stuck in JS', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/faults.ts')
    const { proxy } = await startProxyWithUpstream(t, target, { filters: [nodevoyFilter({ name: 'faults', bundle })] }, {
      concurrency: 1,
      env: { ...budgets, NODEVOY_CPU_BUDGET_MS: '2000' },
    })
    const stuck = request(`${proxy.url}/loop-sync`).then((r) => r.statusCode, () => 'reset')
    await new Promise((r) => setTimeout(r, 200))
    const started = Date.now()
    const exit = await proxy.stop()
    t.equal(exit.code, 0, `exited cleanly ${Date.now() - started} ms after SIGTERM`)
    t.ok([500, 'reset'].includes(await stuck), 'the stuck request was answered or reset')
  }),
)
