// Stream lifetime and threads: stream_complete before destroy, destroy deferred until hooks return,
// every hook on the stream's worker, client disconnects during a pause, and get_worker_index
// (test/modules/README.md §5.8; docs/envoy-facts.md §8, §14, §20).
import net from 'node:net'
import t, { type Test } from 'tap'
import type { Proxy, Target } from '../harness/proxy.js'
import { startProxyWithUpstream, type ProxyWithUpstream } from '../harness/stack.js'
import { devHostOnly, forEachTarget } from '../harness/targets.js'
import { globals, probe, rawExchange, rawGet, rep, send, until } from './abi.support.js'

function chain(t: Test, target: Target, concurrency = 2): Promise<ProxyWithUpstream> {
  return startProxyWithUpstream(
    t,
    target,
    {
      filters: [probe('a', { metric_prefix: 'life_a' }), probe('b', { metric_prefix: 'life_b' })],
      routes: [{ prefix: '/direct', directResponse: { status: 200, body: 'direct' } }, { prefix: '/' }],
    },
    { concurrency },
  )
}

const deny = { 'x-probe-status': '403', 'x-probe-body': 'no', 'x-probe-details': 'probe_no' }

/** Traffic that ends streams in every way the probe can cause: answers, replies, resets, pauses. */
async function mixedTraffic(t: Test, proxy: Proxy): Promise<void> {
  const requests: Record<string, string>[] = [
    { 'x-probe': 'hooks@a' },
    { 'x-probe': 'respond@a', ...deny },
    { 'x-probe': 'respond@b', ...deny },
    { 'x-probe': 'respond:response-headers@b', ...deny },
    { 'x-probe': 'pause@a,respond:request-headers@b', 'x-probe-delay-ms': '5', ...deny },
    { 'x-probe': 'pause:response-headers@a', 'x-probe-delay-ms': '5', 'x-probe-continues': '2' },
    { 'x-probe': 'late-commit@b', 'x-probe-late-delay-ms': '1' },
  ]
  for (const headers of requests) {
    const res = await send(proxy, { headers })
    t.ok(res.status === 200 || res.status === 403, `${headers['x-probe']}: answered (${res.status})`)
  }
  const direct = await send(proxy, { path: '/direct', headers: { 'x-probe': 'local-reply@a' } })
  t.equal(direct.body, 'direct')
  for (const token of ['reset@a', 'reset@b', 'reset:response-headers@a', 'respond@b,local-reply-reset@a']) {
    const raw = await rawExchange(proxy.port, rawGet('/', { 'x-probe': token, ...deny }, false))
    t.equal(raw.data, '', `${token}: reset, no response`)
  }
}

/** The probe's counters once every earlier stream is destroyed and every helper thread finished. */
async function settled(proxy: Proxy): Promise<Record<string, any>> {
  // The globals request itself is one live stream per instance (a and b).
  return until(
    () => globals(proxy, 'a'),
    (g) => g.streams_live === 2 && g.threads_inflight === 0,
  )
}

t.test('stream_complete runs before destroy, for every stream', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await chain(t, target)
    const before = await settled(proxy)
    await mixedTraffic(t, proxy)
    const after = await settled(proxy)
    t.equal(after.streams_live, 2, 'every earlier stream was destroyed')
    const destroyed = after.streams_destroyed - before.streams_destroyed
    t.ok(destroyed >= 2 * 12, `streams destroyed: ${destroyed}`)
    t.equal(after.complete_before_destroy - before.complete_before_destroy, destroyed, 'each saw stream_complete first')
    t.equal(after.destroy_without_complete, before.destroy_without_complete, 'none was destroyed without it')
    t.equal(after.last_complete_before_destroy, 1)
  }),
)

t.test('destroy is deferred until the hooks that caused it have returned', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await chain(t, target)
    await mixedTraffic(t, proxy)
    const g = await settled(proxy)
    t.ok(g.send_response_calls > 0 && g.reset_calls > 0, 'the traffic answered and reset from inside hooks')
    t.equal(g.destroyed_after_callback, 0, 'no send_response/reset_stream returned with the stream destroyed')
    t.equal(g.destroy_inside_hook, 0, 'on_http_filter_destroy never ran while a hook of the stream was running')
  }),
)

t.test("every stream hook, destroy included, runs on the stream's worker", (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await chain(t, target)
    await mixedTraffic(t, proxy)
    const withHooks = await send(proxy, { headers: { 'x-probe': 'pause@a,hooks@a', 'x-probe-delay-ms': '5' } })
    t.equal(rep(withHooks, 'a', 'wrong-thread'), '0')
    const g = await settled(proxy)
    t.equal(g.wrong_thread_calls, 0, 'no hook on a thread other than the one that ran on_http_filter_new')
    t.equal(g.config_destroy_off_main, 0)
  }),
)

t.test('the dev host reports no ABI violation after all that traffic', (t) =>
  devHostOnly(t, async (t) => {
    const { proxy } = await chain(t, 'devhost')
    await mixedTraffic(t, proxy)
    await settled(proxy)
    const stats = await proxy.stats()
    const violations = [...stats].filter(([name, value]) => name.startsWith('devhost.abi_violation') && value !== '0')
    t.same(violations, [], 'devhost.abi_violation* absent or 0')
  }),
)

t.test('a client that disconnects while a pause is pending: the stream is reset and cleaned up', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy, upstream } = await chain(t, target)
    const before = await settled(proxy)
    const socket = net.connect({ host: '127.0.0.1', port: proxy.port })
    socket.on('error', () => {})
    socket.write(rawGet('/gone', { 'x-probe': 'pause@a', 'x-probe-delay-ms': '1500' }, false))
    // The request has reached A (and A paused) once A's in-flight gauge shows it.
    const inflight = await until(() => proxy.stat('dynamicmodulescustom.life_a_inflight'), (v) => v === 1)
    t.equal(inflight, 1, 'the request is paused in A')
    socket.destroy()
    const after = await until(
      () => globals(proxy, 'a'),
      (g) => g.streams_live === 2 && g.threads_inflight === 0 && g.streams_destroyed >= before.streams_destroyed + 4,
    )
    t.equal(after.streams_live, 2, 'the stream was destroyed')
    t.equal(after.threads_inflight, 0, "the pause thread finished (its commit came after destroy and was dropped)")
    t.equal(after.destroy_without_complete, before.destroy_without_complete, 'stream_complete ran before destroy')
    t.equal(after.scheduled_for_dead_stream, before.scheduled_for_dead_stream, 'no on_scheduled for the dead stream')
    t.equal(after.wrong_thread_calls, 0)
    t.equal(await proxy.stat('dynamicmodulescustom.life_a_inflight'), 0, 'stream_complete decremented the gauge')
    // Envoy resets the stream when the client goes away: the paused request never reaches the upstream.
    t.notOk(upstream.requests.some((r) => r.url === '/gone'), 'the paused request was not forwarded')
    const next = await send(proxy, { headers: { 'x-probe': 'config@a' } })
    t.equal(next.status, 200, 'the proxy keeps serving')
  }),
)

t.test('get_worker_index: with --concurrency 2, new connections land on both workers', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await chain(t, target, 2)
    const seen = new Set<string>()
    for (let i = 0; i < 60 && seen.size < 2; i++) {
      const res = await send(proxy, { headers: { 'x-probe': 'worker@a' } })
      seen.add(rep(res, 'a', 'worker-index') ?? '(missing)')
    }
    t.same([...seen].sort(), ['0', '1'], 'both worker indexes appear, and no other')
  }),
)
