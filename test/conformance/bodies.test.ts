// Conformance: request and response bodies through the ABI, observed with the probe
// (test/modules/README.md §4.3, recipes §5.3). Two probe instances, a then b, sit in front of the
// router; the upstream echoes what it received.
import { createHash, randomBytes } from 'node:crypto'
import type http from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { request } from 'undici'
import { forEachTarget } from '../harness/targets.js'
import type { ReceivedRequest } from '../harness/upstream.js'
import { fnv1a, nodeRequest, parseList, probeChain, Progress, rawExchange, report } from './headers-bodies.support.js'

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')

/** Upstream paths used here, on top of the default echo: /text/<s> answers s; /pieces answers in three writes. */
const PIECES = ['first piece;', 'second piece;', 'third piece.']
async function bodyHandler(req: ReceivedRequest, res: http.ServerResponse): Promise<void> {
  if (req.url.startsWith('/text/')) {
    const text = decodeURIComponent(req.url.slice('/text/'.length))
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) })
    res.end(text)
    return
  }
  if (req.url === '/pieces') {
    // Chunked, no content-length; the gaps make separate reads at the proxy likely, not certain.
    res.writeHead(200, { 'content-type': 'text/plain' })
    for (const [i, piece] of PIECES.entries()) {
      if (i > 0) await sleep(100)
      res.write(piece)
    }
    res.end()
    return
  }
  if (req.url.startsWith('/big/')) {
    const n = Number(req.url.slice('/big/'.length))
    const body = patterned(n)
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n })
    // In several writes, so the proxy sees several frames and its buffer several slices.
    for (let off = 0; off < n; off += 16384) res.write(body.subarray(off, off + 16384))
    res.end()
    return
  }
  const payload = JSON.stringify(req)
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) })
  res.end(payload)
}

/** n deterministic bytes that are not all alike. */
function patterned(n: number): Buffer {
  const out = Buffer.alloc(n)
  for (let i = 0; i < n; i++) out[i] = (i * 31 + (i >> 8)) & 0xff
  return out
}

/** The per-frame reports of a direction, decoded. */
function frames(headers: Record<string, string | string[] | undefined>, label: string, dir: 'request' | 'response') {
  return {
    count: Number(report(headers, label, `${dir}-frames`)),
    sizes: parseList(report(headers, label, `${dir}-frame-sizes`)).map(Number),
    eos: parseList(report(headers, label, `${dir}-frame-eos`)),
    receivedBuffered: parseList(report(headers, label, `${dir}-frame-received-buffered`)),
    bufferedSizes: parseList(report(headers, label, `${dir}-frame-buffered-sizes`)).map(Number),
    bytes: Number(report(headers, label, `${dir}-bytes`)),
  }
}

t.test('a request body uploaded in three pieces reaches the filter as several frames, ending with an empty end-of-stream frame', (t) =>
  forEachTarget(t, async (t, target) => {
    const progress = new Progress()
    const { proxy, upstream } = await probeChain(t, target, {
      handler: bodyHandler,
      upstreamOptions: { onBodyChunk: (_req, chunk) => progress.add(chunk.length) },
    })
    const pieces = ['a'.repeat(1000), 'b'.repeat(2000), 'c'.repeat(3000)]
    const total = pieces.reduce((n, p) => n + p.length, 0)
    // Each piece is written only once the upstream has the previous one, so the proxy read it
    // separately: no two pieces can share a frame, whatever the timing.
    const res = await nodeRequest(proxy.port, {
      path: '/upload',
      pieces,
      beforePiece: (i) => progress.reach(pieces.slice(0, i).reduce((n, p) => n + p.length, 0)),
      headers: [['x-probe', 'request-frames@a']],
    })
    t.equal(res.status, 200)
    t.equal(upstream.requests[0]?.bodySha256, sha256(pieces.join('')), 'the upstream got the whole body')
    const f = frames(res.headers, 'a', 'request')
    t.ok(f.count >= 3, `at least three request_body calls (${f.count})`)
    t.equal(f.sizes.length, f.count, 'one size per call')
    t.ok(f.sizes.filter((n) => n > 0).length >= 3, 'each piece came in its own frame')
    t.equal(f.sizes.reduce((a, b) => a + b, 0), total, 'the frame sizes add up to the body')
    t.equal(f.bytes, total, 'request-bytes is the body length')
    t.same(f.eos, [...Array(f.count - 1).fill('0'), '1'], 'only the last call has end_of_stream')
    t.equal(f.sizes.at(-1), 0, 'the HTTP/1 codec ends the body with an empty end-of-stream frame')
    t.same(f.receivedBuffered, Array(f.count).fill('0'), 'no frame is a re-injected buffer')
  }),
)

t.test('a response body written in pieces reaches the filter frame by frame, ending with an empty end-of-stream frame', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await probeChain(t, target, { handler: bodyHandler })
    const res = await request(`${proxy.url}/pieces`, { headers: { 'x-probe': 'response-frames@a' } })
    const body = await res.body.text()
    t.equal(res.statusCode, 200)
    t.equal(body, PIECES.join(''), 'the client got the whole body')
    const f = frames(res.headers, 'a', 'response')
    const total = Buffer.byteLength(PIECES.join(''))
    // How the three writes split into reads depends on timing; the empty end-of-stream frame after
    // the data does not, so at least two frames are certain.
    t.ok(f.count >= 2, `several response_body calls (${f.count})`)
    t.equal(f.sizes.length, f.count, 'one size per call')
    t.equal(f.sizes.reduce((a, b) => a + b, 0), total, 'the frame sizes add up to the body')
    t.equal(f.bytes, total)
    t.same(f.eos, [...Array(f.count - 1).fill('0'), '1'], 'only the last call has end_of_stream')
    t.equal(f.sizes.at(-1), 0, 'the upstream HTTP/1 codec ends the body with an empty end-of-stream frame')
  }),
)

t.test('StopIterationAndBuffer until the end, then the whole request body is read in chunks', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy, upstream } = await probeChain(t, target, { handler: bodyHandler })
    const body = patterned(200_000)
    const res = await request(`${proxy.url}/buffered`, {
      method: 'POST',
      body,
      headers: { 'x-probe': 'request-buffer@a' },
    })
    await res.body.text()
    t.equal(res.statusCode, 200)
    const h = res.headers
    t.equal(report(h, 'a', 'request-body-length'), String(body.length), 'length of the chunks read')
    t.equal(report(h, 'a', 'request-body-fnv1a'), fnv1a(body), 'checksum of the chunks read')
    t.ok(Number(report(h, 'a', 'request-body-chunks')) >= 1, 'read as one or more chunks')
    // At end of stream Envoy moves the last frame into the buffered body: the module sees it all there.
    t.equal(report(h, 'a', 'request-body-buffered-size'), String(body.length), 'all of it is in BufferedRequestBody')
    t.equal(report(h, 'a', 'request-body-received-size'), '0', 'the end-of-stream frame is empty')
    t.equal(report(h, 'a', 'request-body-received-buffered'), 'false')
    t.equal(upstream.requests[0]?.bodySha256, sha256(body), 'the upstream got the same body')
  }),
)

t.test('StopIterationAndBuffer until the end, then the whole response body is read in chunks', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await probeChain(t, target, { handler: bodyHandler })
    const n = 100_000
    const res = await request(`${proxy.url}/big/${n}`, { headers: { 'x-probe': 'response-buffer@a' } })
    const body = Buffer.from(await res.body.arrayBuffer())
    t.equal(res.statusCode, 200)
    t.same(body, patterned(n), 'the client got the body unchanged')
    const h = res.headers
    t.equal(report(h, 'a', 'response-body-length'), String(n), 'length of the chunks read')
    t.equal(report(h, 'a', 'response-body-fnv1a'), fnv1a(patterned(n)), 'checksum of the chunks read')
    t.ok(Number(report(h, 'a', 'response-body-chunks')) >= 1)
    t.equal(report(h, 'a', 'response-body-buffered-size'), String(n), 'all of it is in BufferedResponseBody')
    t.equal(report(h, 'a', 'response-body-received-size'), '0', 'the end-of-stream frame is empty')
  }),
)

t.test('append and drain on a buffered request body, with content-length fixed: the upstream gets the new body', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy, upstream } = await probeChain(t, target, { handler: bodyHandler })
    const original = 'hello world again'
    const expected = original.slice(2) + '-SFX'
    const res = await request(`${proxy.url}/append`, {
      method: 'POST',
      body: original,
      headers: {
        'content-type': 'text/plain',
        'x-probe': 'request-buffer@a,request-suffix@a,request-drain@a',
        'x-probe-suffix': '-SFX',
        'x-probe-drain': '2',
      },
    })
    await res.body.text()
    t.equal(res.statusCode, 200)
    const h = res.headers
    t.equal(report(h, 'a', 'request-body-fnv1a'), fnv1a(original), 'request-buffer digested the original body first')
    t.equal(fnv1a(original), 'f7253f0f', 'the README’s worked checksum')
    t.equal(report(h, 'a', 'request-suffix'), 'appended')
    t.equal(report(h, 'a', 'request-drain'), '2')
    t.equal(report(h, 'a', 'request-content-length'), String(expected.length), 'content-length was fixed')
    const seen = upstream.requests[0]!
    t.equal(seen.body, expected, 'the upstream got body[2:] + suffix')
    t.equal(seen.headers['content-length'], String(expected.length), 'with a matching content-length')
  }),
)

t.test('append and drain on a buffered response body, with content-length fixed: the client gets the new body', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await probeChain(t, target, { handler: bodyHandler })
    const original = 'hello world again'
    const expected = original.slice(2) + '-SFX'
    const res = await request(`${proxy.url}/text/${encodeURIComponent(original)}`, {
      headers: {
        'x-probe': 'response-buffer@a,response-suffix@a,response-drain@a',
        'x-probe-suffix': '-SFX',
        'x-probe-drain': '2',
      },
    })
    const body = await res.body.text()
    t.equal(res.statusCode, 200)
    t.equal(body, expected, 'the client got body[2:] + suffix')
    t.equal(res.headers['content-length'], String(expected.length), 'with a matching content-length')
    const h = res.headers
    t.equal(report(h, 'a', 'response-body-fnv1a'), fnv1a(original), 'response-buffer digested the original body')
    t.equal(report(h, 'a', 'response-suffix'), 'appended')
    t.equal(report(h, 'a', 'response-drain'), '2')
    t.equal(report(h, 'a', 'response-content-length'), String(expected.length))
  }),
)

t.test('an upper-case transform of every frame (drain + append on the received frame), both directions', (t) =>
  forEachTarget(t, async (t, target) => {
    const progress = new Progress()
    const { proxy, upstream } = await probeChain(t, target, {
      handler: bodyHandler,
      upstreamOptions: { onBodyChunk: (_req, chunk) => progress.add(chunk.length) },
    })
    const pieces = ['Hello, ', 'mixed Case ', 'world!']
    const up = await nodeRequest(proxy.port, {
      path: '/upper',
      pieces,
      beforePiece: (i) => progress.reach(pieces.slice(0, i).join('').length),
      headers: [['x-probe', 'request-upper@a']],
    })
    t.equal(up.status, 200)
    t.equal(upstream.requests[0]?.body, 'HELLO, MIXED CASE WORLD!', 'request: the upstream got every frame upper-cased')

    const text = 'a Response body, 123'
    const down = await request(`${proxy.url}/text/${encodeURIComponent(text)}`, { headers: { 'x-probe': 'response-upper@a' } })
    t.equal(down.statusCode, 200)
    t.equal(await down.body.text(), text.toUpperCase(), 'response: the client got it upper-cased')
    t.equal(down.headers['content-length'], String(text.length), 'the length is unchanged')
  }),
)

t.test('received_buffered_request_body: the filter after a buffering one gets the buffered body as one re-injected frame', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy, upstream } = await probeChain(t, target, { handler: bodyHandler })
    const body = patterned(50_000)
    const res = await request(`${proxy.url}/rebuffered`, {
      method: 'POST',
      body,
      headers: { 'x-probe': 'request-buffer@a,request-frames@b' },
    })
    await res.body.text()
    t.equal(res.statusCode, 200)
    const h = res.headers
    t.equal(report(h, 'a', 'request-body-length'), String(body.length))
    t.equal(report(h, 'a', 'request-body-received-buffered'), 'false', 'a: its own frames are not re-injected')
    const b = frames(h, 'b', 'request')
    t.equal(b.count, 1, 'b: one request_body call')
    t.same(b.sizes, [body.length], 'b: the whole body in that frame')
    t.same(b.eos, ['1'], 'b: with end_of_stream')
    t.same(b.receivedBuffered, ['1'], 'b: received_buffered_request_body() is true')
    t.equal(b.bytes, body.length)
    t.equal(upstream.requests[0]?.bodySha256, sha256(body), 'the upstream got the body')
  }),
)

t.test('a 1 MiB upload passes through untouched when the probe does not read it', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy, upstream } = await probeChain(t, target, { handler: bodyHandler })
    const body = randomBytes(1024 * 1024)
    const res = await request(`${proxy.url}/large`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/octet-stream', 'x-probe': 'request-frames@b' },
    })
    await res.body.text()
    t.equal(res.statusCode, 200)
    const seen = upstream.requests[0]!
    t.equal(seen.bodyLength, body.length, 'the upstream got every byte')
    t.equal(seen.bodySha256, sha256(body), 'the same bytes')
    t.equal(seen.headers['content-length'], String(body.length), 'content-length unchanged')
    const b = frames(res.headers, 'b', 'request')
    t.equal(b.bytes, body.length, 'b saw the body go by (sizes only)')
    t.equal(b.eos.at(-1), '1')
  }),
)

t.test('buffering a request body over the connection buffer limit answers 413 Payload Too Large', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy, upstream } = await probeChain(t, target, { handler: bodyHandler, bufferLimitBytes: 64 * 1024 })
    const body = patterned(256 * 1024)
    const head =
      'POST /too-large HTTP/1.1\r\n' +
      `host: 127.0.0.1:${proxy.port}\r\n` +
      `content-length: ${body.length}\r\n` +
      'x-probe: request-buffer@a,local-reply@a\r\n\r\n'
    const res = await rawExchange(proxy.port, Buffer.concat([Buffer.from(head), body]))
    const header = (k: string) => res.headers.find(([n]) => n === k)?.[1]
    t.equal(res.status, 413)
    t.equal(res.body.toString(), 'Payload Too Large')
    t.equal(header('content-type'), 'text/plain')
    t.equal(header('connection'), 'close', 'answered before the request ended: the HTTP/1 connection closes')
    t.equal(header('x-probe-a-local-reply-code'), '413', 'a’s local-reply hook saw the 413')
    t.equal(header('x-probe-a-local-reply-details'), 'request_payload_too_large', 'with Envoy’s details')
    t.equal(upstream.requests.length, 0, 'nothing reached the upstream')
    t.equal(await proxy.stat('http.ingress.downstream_rq_too_large'), 1, 'counted as downstream_rq_too_large')
  }),
)
