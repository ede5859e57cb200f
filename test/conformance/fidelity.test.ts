// Envoy behaviours the dev host used to get wrong (issue 8, shared/reference/envoy-fidelity-audit.md
// M2, M4, M5, M8, M9, m1, m5, m8, m9, m12). Each test fails on the old dev-host behaviour; the facts and
// their Envoy sources are in docs/envoy-facts.md.
import crypto from 'node:crypto'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import YAML from 'yaml'
import { bootstrap, type BootstrapDef } from '../harness/config.js'
import { runExpectingFailure, startProxy, type Target } from '../harness/proxy.js'
import { startProxyWithUpstream } from '../harness/stack.js'
import { forEachTarget } from '../harness/targets.js'
import { startUpstream } from '../harness/upstream.js'
import { globals, probe, rawExchange, rep, send } from './abi.support.js'
import { nodeRequest, parseDump, report } from './headers-bodies.support.js'

const twoProbes = () => [probe('a', { config_scheduler: false }), probe('b', { config_scheduler: false })]

function stack(t: Parameters<typeof forEachTarget>[0], target: Target, def: Omit<BootstrapDef, 'clusters'> = {}) {
  return startProxyWithUpstream(t, target, { filters: twoProbes(), ...def })
}

t.test('M2: a watermark status over the buffer limit applies flow control instead of a 413', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy, upstream } = await stack(t, target, { bufferLimitBytes: 64 * 1024 })
    const body = crypto.randomBytes(512 * 1024).toString('hex') // 1 MiB of ASCII
    const paused = (stop: string) => ({
      'x-probe': 'pause@a',
      'x-probe-delay-ms': '300',
      'x-probe-stop-headers': stop,
      'content-length': String(body.length),
    })
    // StopAllIterationAndWatermark: the request body is held with flow control while the hook waits.
    const streamed = await send(proxy, { method: 'POST', headers: paused('all-watermark'), body })
    t.equal(streamed.status, 200, '1 MiB through a 64 KiB buffer limit')
    const received = upstream.requests.at(-1)!
    t.equal(received.bodyLength, body.length)
    t.equal(received.bodySha256, crypto.createHash('sha256').update(body).digest('hex'), 'the upstream got it intact')
    t.ok((await proxy.stat('http.ingress.downstream_flow_control_paused_reading_total'))! >= 1, 'reading was paused')
    t.ok((await proxy.stat('http.ingress.downstream_flow_control_resumed_reading_total'))! >= 1, 'and resumed')
    // StopAllIterationAndBuffer over the limit is still a 413.
    const buffered = await send(proxy, { method: 'POST', headers: paused('all-buffer'), body })
    t.equal(buffered.status, 413, 'StopAllIterationAndBuffer: 413')
  }),
)

t.test('M2, m1: a response held with a watermark status streams; every module filter gets the watermark events', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await stack(t, target, { bufferLimitBytes: 64 * 1024 })
    const before = await globals(proxy, 'b')
    const held = (stop: string) => ({
      'x-probe': 'pause:response-headers@a',
      'x-probe-delay-ms': '300',
      'x-probe-stop-headers': stop,
    })
    const streamed = await send(proxy, { path: '/bytes/1000000', headers: held('all-watermark') })
    t.equal(streamed.status, 200, 'a 1 MB response through a 64 KiB buffer limit')
    t.equal(streamed.body.length, 1_000_000)
    const after = await globals(proxy, 'b')
    // Both probes are ordinary (non-terminal) filters; each hears the high and the low watermark.
    t.ok(after.watermark_above_calls - before.watermark_above_calls >= 2, 'both filters got above-watermark')
    t.ok(after.watermark_below_calls - before.watermark_below_calls >= 2, 'and below-watermark')
    const buffered = await send(proxy, { path: '/bytes/1000000', headers: held('all-buffer') })
    t.equal(buffered.status, 500, 'StopAllIterationAndBuffer: 500')
  }),
)

t.test('M5: a local reply sent from a request hook is encoded after the hook returns, on_local_reply inside it', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await stack(t, target)
    const deny = { 'x-probe-status': '403', 'x-probe-body': 'no' }
    const g0 = await globals(proxy, 'a')
    const fromRequest = await send(proxy, { headers: { 'x-probe': 'respond@b,hooks@a,local-reply@a', ...deny } })
    t.equal(fromRequest.status, 403)
    t.same(rep(fromRequest, 'a', 'hooks')?.split(','), ['request_headers', 'local_reply', 'response_headers'])
    const g1 = await globals(proxy, 'a')
    // Two replies were sent from request hooks since g0 was read: g0's own globals answer and respond@b.
    t.equal(g1.local_reply_hook_inside_call - g0.local_reply_hook_inside_call, 2, 'on_local_reply ran inside send_response')
    t.equal(g1.reply_encoded_inside_call - g0.reply_encoded_inside_call, 0, 'no response headers before the hook returned')
    t.equal(g1.reply_completed_inside_call - g0.reply_completed_inside_call, 0, 'no stream_complete before the hook returned')
    // From a response hook the reply goes straight to the codec inside the call.
    const fromResponse = await send(proxy, { headers: { 'x-probe': 'respond:response-headers@b', ...deny } })
    t.equal(fromResponse.status, 403)
    const g2 = await globals(proxy, 'a')
    t.equal(g2.reply_encoded_inside_call - g1.reply_encoded_inside_call, 1, 'from a response hook: encoded inside the call')
    t.equal(g2.reply_completed_inside_call - g1.reply_completed_inside_call, 1, 'and the stream completed inside it')
  }),
)

t.test('M8: at the end of a buffered body the last frame stays "received", it is not moved into the buffer', (t) =>
  forEachTarget(t, async (t, target) => {
    const proxy = await startProxy(
      target,
      bootstrap({
        filters: [probe('o', { config_scheduler: false }), probe('t', { terminal: true, config_scheduler: false }, { terminal: true })],
        noRouter: true,
        routes: [{ prefix: '/', directResponse: { status: 404 } }],
      }),
    )
    t.teardown(() => proxy.stop())
    // The terminal probe streams three pieces, the last with end_stream; the observer buffers them.
    const res = await send(proxy, { headers: { 'x-probe': 'response-buffer@o', 'x-probe-stream-body': 'aaa;bbbb;cc' } })
    t.equal(res.status, 200)
    t.equal(res.body, 'aaabbbbcc')
    t.equal(rep(res, 'o', 'response-body-length'), '9', 'the whole body is buffered + received')
    t.equal(rep(res, 'o', 'response-body-buffered-size'), '7', 'buffered: the first two frames')
    t.equal(rep(res, 'o', 'response-body-received-size'), '2', 'received: the last frame')
  }),
)

t.test('M9: inline headers hold one entry; more values are appended with ","', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy, upstream } = await stack(t, target)
    const res = await nodeRequest(proxy.port, {
      headers: [
        ['x-probe', 'get-request@a,dump-request@b,edit-request@a'],
        ['x-probe-key', 'x-forwarded-for'],
        ['x-probe-edit-request', 'add via v1; add via v2; add x-plain p1; add x-plain p2'],
        ['x-forwarded-for', '192.0.2.1'],
        ['x-forwarded-for', '192.0.2.2'],
        ['x-custom', 'one'],
        ['x-custom', 'two'],
      ],
    })
    t.equal(res.status, 200)
    t.equal(report(res.headers, 'a', 'request-get-count'), '1', 'x-forwarded-for sent twice is one entry')
    t.equal(report(res.headers, 'a', 'request-get-values'), encodeURIComponent('192.0.2.1,192.0.2.2'))
    const dump = parseDump(report(res.headers, 'b', 'request-headers'))
    t.same(dump.filter(([k]) => k === 'x-custom').map(([, v]) => v), ['one', 'two'], 'a non-inline header keeps two entries')
    t.same(dump.filter(([k]) => k === 'via').map(([, v]) => v), ['v1,v2'], 'add_header appends to an inline header')
    t.same(dump.filter(([k]) => k === 'x-plain').map(([, v]) => v), ['p1', 'p2'], 'and adds an entry otherwise')
    const seen = upstream.requests.at(-1)!
    t.equal(seen.headers['x-forwarded-for'], '192.0.2.1,192.0.2.2', 'the upstream gets one line (Node joins two with ", ")')
    t.equal(seen.headers['x-custom'], 'one, two', 'two lines for the non-inline header')
  }),
)

t.test('M9: a header registered in bootstrap inline_headers is merged too; cookie values with "; "', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await stack(t, target, {
      inlineHeaders: [
        { name: 'cookie', type: 'REQUEST_HEADER' },
        { name: 'x-joined', type: 'REQUEST_HEADER' },
      ],
    })
    const res = await nodeRequest(proxy.port, {
      headers: [
        ['x-probe', 'dump-request@a'],
        ['cookie', 'a=1'],
        ['cookie', 'b=2'],
        ['x-joined', 'p'],
        ['x-joined', 'q'],
      ],
    })
    const dump = parseDump(report(res.headers, 'a', 'request-headers'))
    t.same(dump.filter(([k]) => k === 'cookie').map(([, v]) => v), ['a=1; b=2'])
    t.same(dump.filter(([k]) => k === 'x-joined').map(([, v]) => v), ['p,q'])
  }),
)

t.test('m8: set_header/add_header with an empty key store it as given; get_header_values on a missing key is true', (t) =>
  forEachTarget(t, async (t, target) => {
    const proxy = await startProxy(
      target,
      bootstrap({
        filters: [...twoProbes(), probe('t', { terminal: true, config_scheduler: false }, { terminal: true })],
        noRouter: true,
        routes: [{ prefix: '/', directResponse: { status: 404 } }],
      }),
    )
    t.teardown(() => proxy.stop())
    const res = await send(proxy, {
      headers: {
        'x-probe': 'edit-request@a,dump-request@b,get-request@b',
        'x-probe-edit-request': 'add (empty) v1; set (empty) v2',
        'x-probe-key': 'x-missing',
      },
    })
    t.equal(res.status, 200)
    t.equal(rep(res, 'a', 'edit-request-results'), 'true,true')
    const dump = parseDump(rep(res, 'b', 'request-headers'))
    t.same(dump.filter(([k]) => k === ''), [['', 'v2']], 'one entry with an empty key, set replaced the added value')
    t.equal(rep(res, 'b', 'request-get-values-bulk'), '(empty)', 'get_header_values: true, no values')
  }),
)

t.test('m9: attributes: route name without a route, mTLS without TLS, xDS names', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await stack(t, target, { routes: [{ name: 'named', prefix: '/named' }] })
    const named = await send(proxy, { path: '/named', headers: { 'x-probe': 'attributes@a' } })
    t.equal(rep(named, 'a', 'attr-route-name'), 'named')
    t.equal(rep(named, 'a', 'attr-vhost-name'), 'all', 'v1.40: the virtual host name')
    t.equal(rep(named, 'a', 'attr-cluster-name'), 'backend')
    t.equal(rep(named, 'a', 'attr-mtls'), '(none)', 'no TLS: the mTLS attribute is unavailable')
    const unrouted = await send(proxy, { path: '/nowhere', headers: { 'x-probe': 'attributes@a' } })
    t.equal(unrouted.status, 404)
    t.equal(rep(unrouted, 'a', 'attr-route-name'), '(empty)', 'no route: available and empty')
  }),
)

t.test('m9, HTTP/1.0: 426 by default; with accept_http_10 the protocol attribute says HTTP/1.0', (t) =>
  forEachTarget(t, async (t, target) => {
    const request = 'GET /named HTTP/1.0\r\nhost: h\r\nx-probe: attributes@a\r\n\r\n'
    const refusing = await stack(t, target)
    const refused = await rawExchange(refusing.proxy.port, request)
    t.match(refused.data, /^HTTP\/1\.1 426 Upgrade Required\r\n/, 'Envoy refuses HTTP/1.0 unless told otherwise')
    const accepting = await stack(t, target, { acceptHttp10: true })
    const accepted = await rawExchange(accepting.proxy.port, request)
    t.match(accepted.data, /^HTTP\/1\.0 200 OK\r\n/)
    t.match(accepted.data, /\r\nx-probe-a-attr-protocol: HTTP\/1\.0\r\n/)
  }),
)

t.test('m12: no content-length: 0 on a header-only answer to HEAD; absolute-form targets are split', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy, upstream } = await stack(t, target)
    const empty = (method: string) =>
      rawExchange(proxy.port, `${method} / HTTP/1.1\r\nhost: h\r\nx-probe: respond@a\r\nconnection: close\r\n\r\n`)
    const get = await empty('GET')
    t.match(get.data, /\r\ncontent-length: 0\r\n/i, 'GET: content-length: 0')
    const head = await empty('HEAD')
    t.match(head.data, /^HTTP\/1\.1 200 /)
    t.notMatch(head.data, /content-length/i, 'HEAD: none')

    const absolute = await rawExchange(
      proxy.port,
      'GET http://example.test:8080/abs/path?q=1 HTTP/1.1\r\nhost: other\r\nx-probe: pseudo@a\r\nconnection: close\r\n\r\n',
    )
    t.match(absolute.data, /\r\nx-probe-a-pseudo-path: \/abs\/path\?q=1\r\n/)
    t.match(absolute.data, /\r\nx-probe-a-pseudo-authority: example\.test:8080\r\n/, 'the target host replaces Host')
    t.match(absolute.data, /\r\nx-probe-a-pseudo-scheme: http\r\n/)
    t.equal(upstream.requests.at(-1)?.url, '/abs/path?q=1', 'the upstream gets the origin form')
  }),
)

t.test('m5: a module already loaded without load_globally is not promoted by a later config that sets it', (t) =>
  forEachTarget(t, async (t, target) => {
    const local = await startProxyWithUpstream(t, target, {
      filters: [probe('a', { config_scheduler: false }), probe('b', { config_scheduler: false }, { loadGlobally: true })],
    })
    const res = await send(local.proxy, { headers: { 'x-probe': 'global-visible@a' } })
    t.equal(rep(res, 'a', 'global-visible'), 'false', 'the resident check (RTLD_NOLOAD | RTLD_LAZY) keeps it local')
    const global = await startProxyWithUpstream(t, target, { filters: [probe('a', { config_scheduler: false }, { loadGlobally: true })] })
    const res2 = await send(global.proxy, { headers: { 'x-probe': 'global-visible@a' } })
    t.equal(rep(res2, 'a', 'global-visible'), 'true', 'loaded with load_globally first: global')
  }),
)

// Bootstrap YAML as a user writes it: unquoted YAML 1.1 scalars, which YAML.stringify would quote.
function withRawScalars(config: Record<string, unknown>): string {
  return YAML.stringify(config)
    .replace(/RAW__([^\s,}\]'"]+)/g, '$1')
    .replace(/QUOTED__([^\s,}\]'"]+)/g, '"$1"')
}

t.test('M4: filter_config YAML is read as Envoy reads bootstrap YAML into a Struct', (t) =>
  forEachTarget(t, async (t, target) => {
    const upstream = await startUpstream()
    t.teardown(() => upstream.close())
    const perRoute = {
      yes_word: 'RAW__yes', on_word: 'RAW__on', y_word: 'RAW__y', off_word: 'RAW__Off',
      int32: 'RAW__2147483647', big: 'RAW__2147483648', negative_big: 'RAW__-3000000000',
      fraction: 'RAW__0.25', hex: 'RAW__0x1F', octal: 'RAW__010', quoted: 'QUOTED__yes', nothing: 'RAW__~',
      list: ['RAW__1', 'RAW__2.5', 'RAW__true'],
    }
    const config = bootstrap({
      // The probe's own config: YAML 1.1 booleans and a hex integer where it expects bool and number.
      filters: [probe('a', { terminal: 'RAW__no', config_scheduler: 'RAW__off', config_scheduler_delay_ms: 'RAW__0x10' })],
      routes: [{ prefix: '/', perFilter: { 'probe-a': { module: 'probe', config: perRoute } } }],
      clusters: { backend: [upstream.port] },
    })
    const proxy = await startProxy(target, withRawScalars(config))
    t.teardown(() => proxy.stop())
    const res = await send(proxy, { headers: { 'x-probe': 'config@a,route-config@a' } })
    t.equal(res.status, 200, 'the probe accepted terminal: no, config_scheduler: off, delay 0x10')
    t.same(JSON.parse(decodeURIComponent(rep(res, 'a', 'filter-config')!)), {
      label: 'a', terminal: false, config_scheduler: false, config_scheduler_delay_ms: 16,
    })
    t.same(JSON.parse(decodeURIComponent(rep(res, 'a', 'route-config')!)), {
      yes_word: true, on_word: true, y_word: true, off_word: false,
      int32: 2147483647, big: '2147483648', negative_big: '-3000000000',
      fraction: '0.25', hex: 31, octal: 8, quoted: 'yes', nothing: null,
      list: [1, '2.5', true],
    }, 'YAML 1.1 booleans, int32 numbers, larger integers and floats as strings, hex and octal')
  }),
)

t.test('m6: a TypedStruct filter_config: v1.40 passes xds.type.v3.TypedStruct as JSON, udpa as the raw Any bytes', (t) =>
  forEachTarget(t, async (t, target) => {
    const typed = (type: string) => ({
      '@type': `type.googleapis.com/${type}`,
      type_url: 'type.googleapis.com/test.Probe',
      value: { label: 'a', config_scheduler: false },
    })
    const config = bootstrap({ filters: [probe('a')], routes: [{ prefix: '/', directResponse: { status: 200 } }] }) as any
    const httpFilters = config.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters
    httpFilters[0].typed_config.filter_config = typed('xds.type.v3.TypedStruct')
    const proxy = await startProxy(target, config)
    t.teardown(() => proxy.stop())
    const res = await send(proxy, { headers: { 'x-probe': 'config@a' } })
    t.same(JSON.parse(decodeURIComponent(rep(res, 'a', 'filter-config')!)), { label: 'a', config_scheduler: false })
    // The udpa variant reaches the module as protobuf bytes, which the probe refuses as a config.
    httpFilters[0].typed_config.filter_config = typed('udpa.type.v1.TypedStruct')
    const refused = await runExpectingFailure(target, config)
    t.not(refused.code, 0)
    t.match(refused.output, /probe: invalid filter_config/)
  }),
)

t.test('m1: a stream that starts on a connection already above its high watermark gets it replayed after filter_new', (t) =>
  forEachTarget(t, async (t, target) => {
    // The first pipelined request gets a 256 KiB direct response the client does not read yet, which
    // leaves the connection above its 64 KiB high watermark when the second request's stream starts.
    const big = 'x'.repeat(256 * 1024)
    const { proxy } = await stack(t, target, {
      bufferLimitBytes: 64 * 1024,
      routes: [{ prefix: '/big', directResponse: { status: 200, body: big } }, { prefix: '/small', directResponse: { status: 200, body: 'small' } }],
    })
    const socket = net.connect({ host: '127.0.0.1', port: proxy.port })
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    socket.pause()
    socket.write('GET /big HTTP/1.1\r\nhost: h\r\n\r\nGET /small HTTP/1.1\r\nhost: h\r\nx-probe: hooks@a\r\nconnection: close\r\n\r\n')
    await sleep(300)
    let data = ''
    socket.on('data', (c: Buffer) => (data += c.toString('latin1')))
    socket.resume()
    await new Promise<void>((resolve) => socket.once('close', () => resolve()))
    const second = data.slice(data.indexOf('HTTP/1.1', 10))
    const hooks = /\r\nx-probe-a-hooks: ([^\r]*)\r\n/.exec(second)?.[1]
    t.equal(hooks?.split(',')[0], 'watermark_above', `the second stream heard the raised watermark first (${hooks})`)
  }),
)
