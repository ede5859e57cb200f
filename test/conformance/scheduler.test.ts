// Schedulers: commits from the probe's own threads, commits after destroy, scheduler_delete, and the
// config scheduler on the main thread (test/modules/README.md §5.7; docs/envoy-facts.md §8).
import t, { type Test } from 'tap'
import type { Proxy, Target } from '../harness/proxy.js'
import { startProxyWithUpstream } from '../harness/stack.js'
import { forEachTarget } from '../harness/targets.js'
import { globals, list, probe, rep, send, until } from './abi.support.js'

async function chain(t: Test, target: Target, configA: Record<string, unknown> = {}): Promise<Proxy> {
  const { proxy } = await startProxyWithUpstream(t, target, { filters: [probe('a', configA), probe('b')] })
  return proxy
}

t.test("a commit from the probe's own thread runs on_scheduled on the stream's worker", (t) =>
  forEachTarget(t, async (t, target) => {
    const proxy = await chain(t, target)
    const before = await globals(proxy, 'a')
    const res = await send(proxy, { headers: { 'x-probe': 'pause@a,hooks@a', 'x-probe-delay-ms': '20' } })
    t.equal(res.status, 200)
    t.same(list(rep(res, 'a', 'hooks')), ['request_headers', 'scheduled', 'response_headers'], 'on_scheduled between the two')
    t.equal(rep(res, 'a', 'request-resumes'), '1')
    t.equal(rep(res, 'a', 'wrong-thread'), '0', 'every hook, on_scheduled included, on the stream worker')
    const after = await globals(proxy, 'a')
    t.equal(after.scheduled_calls - before.scheduled_calls, 1)
    t.equal(after.scheduled_for_dead_stream, before.scheduled_for_dead_stream)
    t.equal(after.wrong_thread_calls, 0)
  }),
)

t.test('a commit after destroy is dropped: no on_scheduled, no crash', (t) =>
  forEachTarget(t, async (t, target) => {
    const proxy = await chain(t, target)
    const before = await globals(proxy, 'a')
    const droppedBefore = (await proxy.stat('devhost.scheduler.dropped_events')) ?? 0
    const res = await send(proxy, { headers: { 'x-probe': 'late-commit@a', 'x-probe-late-delay-ms': '20' } })
    t.equal(res.status, 200)
    t.equal(rep(res, 'a', 'late-commit'), 'armed')
    // The helper thread waits for on_http_filter_destroy, then commits.
    const after = await until(
      () => globals(proxy, 'a'),
      (g) => g.late_commits_sent > before.late_commits_sent && g.threads_inflight === 0,
    )
    t.equal(after.late_commits_sent - before.late_commits_sent, 1, 'the thread committed after destroy')
    t.equal(after.threads_inflight, 0)
    // Give a wrongly delivered event the chance to show: a later request goes through the same worker loop.
    const settle = await globals(proxy, 'a')
    t.equal(settle.late_events_delivered, 0, 'the late event was never delivered')
    t.equal(settle.scheduled_for_dead_stream, before.scheduled_for_dead_stream)
    if (target === 'devhost') {
      const dropped = (await proxy.stat('devhost.scheduler.dropped_events')) ?? 0
      t.ok(dropped > droppedBefore, `the dev host counted the dropped event (${droppedBefore} -> ${dropped})`)
    }
    const next = await send(proxy, { headers: { 'x-probe': 'config@a' } })
    t.equal(next.status, 200, 'the proxy keeps serving')
  }),
)

t.test('scheduler_delete is always called: schedulers_created == schedulers_deleted once threads are done', (t) =>
  forEachTarget(t, async (t, target) => {
    const proxy = await chain(t, target)
    // Schedulers released by the stream (pause: the thread is done before destroy) and by the thread
    // (late-commit: the thread lets go last, after destroy, off the worker).
    const traffic: Record<string, string>[] = [
      { 'x-probe': 'pause@a', 'x-probe-delay-ms': '5' },
      { 'x-probe': 'pause:response-headers@b', 'x-probe-delay-ms': '5' },
      { 'x-probe': 'late-commit@a', 'x-probe-late-delay-ms': '10' },
      { 'x-probe': 'late-commit@b,pause@a', 'x-probe-late-delay-ms': '1', 'x-probe-delay-ms': '5' },
    ]
    for (const headers of traffic) t.equal((await send(proxy, { headers })).status, 200)
    const g = await until(
      () => globals(proxy, 'a'),
      (v) => v.threads_inflight === 0 && v.schedulers_created === v.schedulers_deleted,
    )
    t.equal(g.threads_inflight, 0, 'every helper thread finished')
    t.ok(g.schedulers_created >= 5, `schedulers were created (${g.schedulers_created})`)
    t.equal(g.schedulers_deleted, g.schedulers_created, 'each one deleted')
  }),
)

t.test('the config scheduler runs on the main thread; config_increment_counter succeeds there', (t) =>
  forEachTarget(t, async (t, target) => {
    const proxy = await chain(t, target, { config_scheduler_delay_ms: 10 })
    const res = await until(
      () => send(proxy, { headers: { 'x-probe': 'config@a' } }),
      (r) => rep(r, 'a', 'config-scheduled') === '1',
    )
    t.equal(rep(res, 'a', 'config-scheduled'), '1', 'one config event delivered')
    t.equal(rep(res, 'a', 'config-scheduled-on-main'), '1', "on config_new's thread (main)")
    t.equal(rep(res, 'a', 'config-scheduled-off-main'), '0')
    t.equal(rep(res, 'a', 'config-counter-result'), '0', 'config_increment_counter: Success')
    const g = await globals(proxy, 'a')
    t.equal(g.config_scheduled_off_main, 0)
    t.ok(g.config_schedulers_created >= 2, 'one config scheduler per config')
  }),
)
