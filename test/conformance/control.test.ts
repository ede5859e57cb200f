// Who answers and when: send_response, on_http_filter_local_reply, streamed responses from a terminal
// filter, continue_decoding/encoding after a pause, reset_stream, clear_route_cache, and Envoy's own
// local replies (test/modules/README.md §5.4–§5.6, §5.9; docs/envoy-facts.md §3, §7, §14–§18).
import net from 'node:net'
import t, { type Test } from 'tap'
import { bootstrap } from '../harness/config.js'
import { startProxy, type Target } from '../harness/proxy.js'
import { startProxyWithUpstream, type ProxyWithUpstream } from '../harness/stack.js'
import { forEachTarget } from '../harness/targets.js'
import { startUpstream } from '../harness/upstream.js'
import { globals, list, probe, rawExchange, rawGet, rep, send, statusLines } from './abi.support.js'

/** Probe instances a and b in front of the router, the echo upstream as `backend`. */
function chain(t: Test, target: Target, extra: { trailers?: boolean } = {}): Promise<ProxyWithUpstream> {
  return startProxyWithUpstream(t, target, {
    filters: [probe('a'), probe('b')],
    ...(extra.trailers ? { http1Trailers: true } : {}),
  })
}

const denied = {
  'x-probe-status': '403',
  'x-probe-body': 'denied',
  'x-probe-details': 'probe_denied',
  'x-probe-respond-headers': 'x-custom=1',
}

t.test('send_response: status, headers, body, details; content-type and content-length for a body', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy, upstream } = await chain(t, target)
    const res = await send(proxy, { headers: { 'x-probe': 'respond@b,local-reply@a', ...denied } })
    t.equal(res.status, 403)
    t.equal(res.body, 'denied')
    t.equal(res.headers['x-custom'], '1', 'the module header')
    t.equal(res.headers['content-type'], 'text/plain', 'added for a non-empty body')
    t.equal(res.headers['content-length'], '6', 'the body size')
    t.equal(rep(res, 'a', 'local-reply-details'), 'probe_denied', 'details, as the other instance saw them')
    t.equal(upstream.requests.length, 0, 'nothing reached the upstream')

    // Without details, Envoy uses `dynamic_module`.
    const noDetails = await send(proxy, {
      headers: { 'x-probe': 'respond@b,local-reply@a', 'x-probe-status': '401', 'x-probe-body': 'no' },
    })
    t.equal(noDetails.status, 401)
    t.equal(rep(noDetails, 'a', 'local-reply-details'), 'dynamic_module', 'default details')

    // A module content-type is kept; an empty body gets neither content-type nor a body.
    const typed = await send(proxy, {
      headers: {
        'x-probe': 'respond@b',
        'x-probe-status': '200',
        'x-probe-body': '{}',
        'x-probe-respond-headers': 'content-type=application/json',
      },
    })
    t.equal(typed.headers['content-type'], 'application/json', 'the module content-type is kept')
    t.equal(typed.body, '{}')
    const empty = await send(proxy, { headers: { 'x-probe': 'respond@b', 'x-probe-status': '404' } })
    t.equal(empty.status, 404)
    t.equal(empty.body, '')
    t.equal(empty.headers['content-type'], undefined, 'no content-type without a body')
  }),
)

t.test("local reply: the sender's response hooks are skipped, an earlier instance sees it; local-reply-reset", (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await chain(t, target)
    const before = await globals(proxy, 'a')
    const res = await send(proxy, { headers: { 'x-probe': 'respond@b,hooks@a,local-reply@a', ...denied } })
    t.equal(res.status, 403)
    t.same(list(rep(res, 'a', 'hooks')), ['request_headers', 'local_reply', 'response_headers'], 'A saw the reply')
    t.equal(rep(res, 'a', 'local-reply-count'), '1')
    t.equal(rep(res, 'a', 'local-reply-code'), '403')
    t.equal(rep(res, 'a', 'local-reply-details'), 'probe_denied')
    t.equal(rep(res, 'a', 'local-reply-reset-imminent'), 'false')
    const after = await globals(proxy, 'a')
    t.equal(after.own_reply_response_hooks, before.own_reply_response_hooks, "B's response hooks never ran for its reply")
    t.equal(after.own_reply_response_hooks, 0)
    t.same(after.last_local_reply, { code: 403, details: 'probe_denied', reset_imminent: false })
    // on_http_filter_local_reply runs in every instance (both export it) for every local reply: the
    // reply to the first globals request (2) and the 403 (2).
    t.equal(after.local_reply_calls - before.local_reply_calls, 4, 'local_reply in both instances, per reply')
    t.equal(after.send_response_calls - before.send_response_calls, 2)

    // A's local_reply hook answers ContinueAndResetStream: the client sees a reset, not the 403.
    const reset = await rawExchange(proxy.port, rawGet('/', { 'x-probe': 'respond@b,local-reply-reset@a', ...denied }))
    t.ok(reset.closed, 'the connection is closed')
    t.equal(reset.data, '', 'no response at all')
    const next = await send(proxy, { headers: { 'x-probe': 'config@a' } })
    t.equal(next.status, 200, 'the proxy keeps serving')
  }),
)

t.test('streamed response from a terminal filter: headers, data pieces, trailers; own response hooks skipped', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy, upstream } = await startProxyWithUpstream(t, target, {
      filters: [probe('o'), probe('t', { terminal: true }, { terminal: true })],
      noRouter: true,
      http1Trailers: true,
    })
    const before = await globals(proxy, 'o')
    const streamed = {
      'x-probe': 'response-frames@o,hooks@o',
      'x-probe-stream-body': 'aa;bb;cc',
      'x-probe-stream-trailers': 'x-t=1',
      'x-probe-respond-headers': 'x-streamed=yes',
    }
    const expectedHooks = ['request_headers', 'response_headers', 'response_body', 'response_body', 'response_body', 'response_trailers']
    for (const interval of ['0', '20']) {
      const res = await send(proxy, { headers: { ...streamed, 'x-probe-stream-interval-ms': interval } })
      const how = interval === '0' ? 'inline' : `spaced by the scheduler (${interval} ms)`
      t.equal(res.status, 200, how)
      t.equal(res.headers['x-streamed'], 'yes')
      t.equal(res.body, 'aabbcc', `${how}: every piece, in order`)
      t.equal(res.trailers['x-t'], '1', `${how}: the trailers`)
      t.equal(rep(res, 't', 'terminal-request-bytes'), '0')
      t.equal(rep(res, 'o', 'response-frames'), '3', `${how}: the observer saw each piece as a frame`)
      t.same(list(rep(res, 'o', 'response-frame-sizes')), ['2', '2', '2'])
      t.same(list(rep(res, 'o', 'hooks')), expectedHooks)
    }
    // Default pieces, no trailers, a request body consumed by the terminal filter.
    const post = await send(proxy, { body: 'hello-body', headers: { 'x-probe': 'hooks@o' } })
    t.equal(post.status, 200)
    t.equal(post.body, 'piece-0\npiece-1\npiece-2\n')
    t.equal(rep(post, 't', 'terminal-request-bytes'), '10', 'the terminal filter consumed the request body')
    const after = await globals(proxy, 'o')
    t.equal(after.streamed_responses - before.streamed_responses, 3)
    t.equal(after.own_reply_response_hooks, before.own_reply_response_hooks, "the terminal instance's response hooks never ran")
    t.equal(upstream.requests.length, 0, 'no router, no upstream request')
  }),
)

// Stages of a pause, with what the request needs to reach it and what must come out intact.
const pauseStages: { stage: string; path: string; body?: string[]; trailers?: Record<string, string>; dir: 'request' | 'response' }[] = [
  { stage: 'request-headers', path: '/echo', dir: 'request' },
  { stage: 'request-body', path: '/echo', body: ['first-piece,', 'second-piece'], dir: 'request' },
  { stage: 'request-trailers', path: '/echo', body: ['body-with-trailers'], trailers: { 'x-t1': 'one' }, dir: 'request' },
  { stage: 'response-headers', path: '/chunked', dir: 'response' },
  { stage: 'response-body', path: '/chunked', dir: 'response' },
  { stage: 'response-trailers', path: '/chunked', dir: 'response' },
]

t.test('continue_decoding/encoding after a pause at each stage: the exchange completes intact', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy, upstream } = await chain(t, target, { trailers: true })
    for (const s of pauseStages) {
      // Response reports are written when A lets the response headers go; a hold on the response
      // (response-frames) keeps them until the end, so a later response pause is reported too.
      const actions = [`pause:${s.stage}@a`, 'hooks@a', ...(s.dir === 'response' ? ['response-frames@a'] : [])]
      const res = await send(proxy, {
        path: s.path,
        headers: { 'x-probe': actions.join(','), 'x-probe-delay-ms': '30' },
        ...(s.body ? { body: s.body } : {}),
        ...(s.trailers ? { trailers: s.trailers } : {}),
      })
      t.equal(res.status, 200, `${s.stage}: 200`)
      if (s.dir === 'request') {
        const seen = JSON.parse(res.body) as { url: string; body: string; trailers: Record<string, string> }
        t.equal(seen.url, s.path, `${s.stage}: the upstream got the request`)
        t.equal(seen.body, (s.body ?? []).join(''), `${s.stage}: the request body is intact`)
        if (s.trailers) t.same(seen.trailers, s.trailers, `${s.stage}: the request trailers are intact`)
      } else {
        t.equal(res.body, 'one,two,three', `${s.stage}: the response body is intact`)
        t.equal(res.trailers['x-upstream-trailer'], 'done', `${s.stage}: the response trailers are intact`)
      }
      t.equal(rep(res, 'a', `${s.dir}-resumes`), '1', `${s.stage}: one resume`)
      t.ok(Number(rep(res, 'a', `${s.dir}-pause-ms`)) >= 30, `${s.stage}: the probe measured a pause of ≥ 30 ms`)
      t.ok(list(rep(res, 'a', 'hooks')).includes('scheduled'), `${s.stage}: on_scheduled ran`)
      t.equal(rep(res, 'a', 'wrong-thread'), '0')
    }
    t.equal(upstream.requests.length, pauseStages.length, 'one upstream request per exchange')
  }),
)

t.test('a second continue is ignored: exactly one intact response', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy, upstream } = await chain(t, target)
    for (const [stage, counter] of [
      ['request-headers', 'continue_decoding_calls'],
      ['response-headers', 'continue_encoding_calls'],
    ] as const) {
      const before = await globals(proxy, 'a')
      const requestsBefore = upstream.requests.length
      const raw = await rawExchange(
        proxy.port,
        rawGet(`/once-${stage}`, { 'x-probe': `pause:${stage}@a`, 'x-probe-delay-ms': '20', 'x-probe-continues': '2' }),
      )
      t.ok(raw.closed, `${stage}: the connection ends (connection: close)`)
      t.equal(statusLines(raw.data), 1, `${stage}: exactly one response`)
      t.match(raw.data, /^HTTP\/1\.1 200 /, `${stage}: a 200`)
      const body = raw.data.slice(raw.data.indexOf('\r\n\r\n') + 4)
      t.match(body, `"url":"/once-${stage}"`, `${stage}: the upstream's echo, intact`)
      t.equal(upstream.requests.length, requestsBefore + 1, `${stage}: one upstream request`)
      const after = await globals(proxy, 'a')
      t.equal(after[counter] - before[counter], 2, `${stage}: the probe called continue twice`)
    }
  }),
)

t.test('reset_stream: the client sees the connection closed without a response; the proxy keeps serving', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await chain(t, target)
    const before = await globals(proxy, 'a')
    for (const token of ['reset@a', 'reset:response-headers@a']) {
      const raw = await rawExchange(proxy.port, rawGet('/', { 'x-probe': token }, false))
      t.ok(raw.closed, `${token}: the connection is closed`)
      t.equal(raw.data, '', `${token}: no response`)
      const next = await send(proxy, { headers: { 'x-probe': 'config@a' } })
      t.equal(next.status, 200, `${token}: the proxy keeps serving`)
    }
    const after = await globals(proxy, 'a')
    t.equal(after.reset_calls - before.reset_calls, 2)
    t.equal(after.hooks_after_reset, before.hooks_after_reset, 'no stream hook after the reset')
  }),
)

t.test('clear_route_cache: an edited :path is routed anew only after the cache is cleared', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy, upstream } = await startProxyWithUpstream(t, target, {
      filters: [probe('a'), probe('b')],
      routes: [{ path: '/other', directResponse: { status: 200, body: 'other-route' } }, { prefix: '/' }],
    })
    const edit = { 'x-probe-edit-request': 'set :path /other' }
    const cleared = await send(proxy, { path: '/start', headers: { 'x-probe': 'edit-request@a,clear-route-cache@a', ...edit } })
    t.equal(cleared.status, 200)
    t.equal(cleared.body, 'other-route', 'routed by the new path: the direct response')
    t.equal(upstream.requests.length, 0)

    const kept = await send(proxy, { path: '/start', headers: { 'x-probe': 'edit-request@a', ...edit } })
    t.equal(kept.status, 200)
    t.equal((JSON.parse(kept.body) as { url: string }).url, '/other', 'the old route: the upstream, with the new path')
    t.equal(upstream.requests.length, 1)
  }),
)

t.test("Envoy's own local replies: 404 route_not_found, 503 connect failure, 504 route timeout", (t) =>
  forEachTarget(t, async (t, target) => {
    const upstream = await startUpstream()
    t.teardown(() => upstream.close())
    // A port with nothing listening: bind, note it, close.
    const closedPort = await new Promise<number>((resolve) => {
      const server = net.createServer()
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo
        server.close(() => resolve(port))
      })
    })
    const proxy = await startProxy(
      target,
      bootstrap({
        filters: [probe('a')],
        routes: [
          { prefix: '/refused', cluster: 'nowhere' },
          { prefix: '/delay', cluster: 'backend', timeout: '0.2s' },
          { prefix: '/known', cluster: 'backend' },
        ],
        clusters: { backend: [upstream.port], nowhere: [closedPort] },
      }),
    )
    t.teardown(() => proxy.stop())
    const watch = { 'x-probe': 'local-reply@a' }

    const notFound = await send(proxy, { path: '/unknown', headers: watch })
    t.equal(notFound.status, 404)
    t.equal(notFound.body, '')
    t.equal(rep(notFound, 'a', 'local-reply-code'), '404')
    t.equal(rep(notFound, 'a', 'local-reply-details'), 'route_not_found')

    const refused = await send(proxy, { path: '/refused', headers: watch })
    t.equal(refused.status, 503)
    t.match(refused.body, /^upstream connect error or disconnect\/reset before headers\. reset reason: \S/)
    t.equal(refused.headers['content-type'], 'text/plain')
    t.equal(rep(refused, 'a', 'local-reply-code'), '503')
    t.match(decodeURIComponent(rep(refused, 'a', 'local-reply-details') ?? ''), /^upstream_reset_before_response_started\{/)

    const slow = await send(proxy, { path: '/delay/3000', headers: watch })
    t.equal(slow.status, 504)
    t.equal(slow.body, 'upstream request timeout')
    t.equal(rep(slow, 'a', 'local-reply-code'), '504')
    t.equal(rep(slow, 'a', 'local-reply-details'), 'upstream_response_timeout')
  }),
)
