// The stream API beyond headers and bodies (issue 9): per-stream instances, stream info, metadata,
// filter state, re-routing after a rewrite, console to Envoy's log, the stream's AbortSignal, and
// onStreamComplete with the final status.
import net from 'node:net'
import t from 'tap'
import { Agent, request } from 'undici'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { envoyVersionUnderTest } from '../harness/proxy.js'
import { startProxyWithUpstream } from '../harness/stack.js'
import { forEachTarget } from '../harness/targets.js'
import { linesNamed, rawRequest } from '../harness/raw-http.js'

t.test('each stream has its own instance: latency right for 200 concurrent requests', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/latency.ts')
    const { proxy } = await startProxyWithUpstream(t, target, { filters: [nodevoyFilter({ name: 'latency', bundle })] }, { concurrency: 2 })
    const agent = new Agent({ connections: 200 })
    t.teardown(() => agent.close())
    const delays = Array.from({ length: 200 }, () => Math.floor(Math.random() * 300))
    const results = await Promise.all(
      delays.map(async (delay) => {
        const started = performance.now()
        const res = await request(`${proxy.url}/delay/${delay}`, { dispatcher: agent })
        await res.body.text()
        return { delay, measured: Number(res.headers['x-latency-ms']), outside: performance.now() - started }
      }),
    )
    const wrong = results.filter((r) => !(r.measured >= r.delay - 1 && r.measured <= r.outside + 1))
    t.same(wrong, [], 'every stream measured its own latency: at least its upstream delay, at most what the client saw')
  }),
)

t.test('stream info, metadata, filter state, request headers from the response path, onStreamComplete', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/stream-info.ts')
    const { proxy, upstream } = await startProxyWithUpstream(
      t,
      target,
      {
        filters: [nodevoyFilter({ name: 'info', bundle })],
        routes: [
          { name: 'direct-route', path: '/direct', directResponse: { status: 200, body: 'rerouted' } },
          { name: 'main-route', prefix: '/', metadata: { 'nodevoy.route': { tier: 'gold' } } },
        ],
      },
      { concurrency: 1 },
    )
    // A raw connection, so the client's own port is known.
    const socket = net.connect(proxy.port, '127.0.0.1')
    await new Promise((r) => socket.once('connect', r))
    const clientPort = socket.localPort!
    socket.destroy()
    const res = await rawRequest(proxy.port, '/info', { 'x-client': 'c1' })
    const header = (name: string) => linesNamed(res.head, name)[0]?.toString('latin1').replace(/^[^:]+: /, '')
    t.equal(res.status, 200)
    const [sourceAddress, sourcePort] = header('x-source')!.split('|')
    t.match(sourceAddress, /^127\.0\.0\.1(:\d+)?$/, `the client's address (${sourceAddress})`)
    t.ok(Number(sourcePort) > 0 && Number(sourcePort) !== proxy.port, `the client's port (${sourcePort}; a previous connection used ${clientPort})`)
    t.equal(header('x-destination')!.split('|')[1], String(proxy.port), "the listener's port")
    t.equal(header('x-protocol'), 'HTTP/1.1')
    // The cluster-name attribute came with Envoy v1.40: earlier releases have no accessor.
    const hasClusterName = target !== 'devhost' || envoyVersionUnderTest() === '1.40'
    t.equal(header('x-route'), `main-route|${hasClusterName ? 'backend' : 'undefined'}`, 'route and cluster names')
    t.equal(header('x-response-code'), '200')
    t.equal(header('x-meta'), 'ada|42|true', 'dynamic metadata set on the request, read on the response (string, number, bool)')
    t.equal(header('x-route-meta'), 'gold', "the route's metadata")
    t.equal(header('x-state'), 'from the request', 'filter state')
    t.equal(header('x-request-header-from-response'), 'c1', 'request headers read from a response hook')
    const rerouted = await request(`${proxy.url}/reroute`)
    t.equal(await rerouted.body.text(), 'rerouted', 'a rewritten :path with clearRouteCache() is routed again')
    t.equal(upstream.requests.filter((r) => r.url === '/reroute').length, 0)
    const denied = await request(`${proxy.url}/deny`)
    await denied.body.text()
    const report = (await (await request(`${proxy.url}/report`)).body.json()) as Record<string, string>
    t.match(report.info, /^200 .* aborted=true$/, 'onStreamComplete saw the final status (and the stream signal aborted)')
    t.equal(report.deny, '403 stream_info_denied aborted=true', 'and a local reply with its details')
  }),
)

t.test("console goes to Envoy's log, tagged with filter and stream", (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/stream-info.ts')
    const { proxy } = await startProxyWithUpstream(t, target, { filters: [nodevoyFilter({ name: 'info', bundle })] })
    const res = await request(`${proxy.url}/console`)
    await res.body.text()
    await proxy.waitForLog(/\[dynamic_modules\].*\[stream-info\]\[stream \d+\] hello from console \{ n: 42 \}/)
    t.pass('the line is in the log, formatted like console.log')
  }),
)

t.test("the stream's AbortSignal fires when the client goes away", (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/stream-info.ts')
    const { proxy } = await startProxyWithUpstream(t, target, { filters: [nodevoyFilter({ name: 'info', bundle })] }, { concurrency: 1 })
    const controller = new AbortController()
    const pending = request(`${proxy.url}/abort`, { signal: controller.signal }).catch((e: Error) => e.name)
    await new Promise((r) => setTimeout(r, 200))
    controller.abort()
    t.equal(await pending, 'AbortError', 'the client left')
    let report: Record<string, string> = {}
    for (let i = 0; i < 50 && !report.abort; i++) {
      await new Promise((r) => setTimeout(r, 20))
      report = (await (await request(`${proxy.url}/report`)).body.json()) as Record<string, string>
    }
    t.equal(report.abort, 'AbortError: the stream is complete (its response was sent, or it was reset)', 'the timer tied to stream.signal was cancelled at once')
  }),
)
