// The data path is lazy: reading headers copies the whole map once; bodies are never copied unless
// read.
import { createHash } from 'node:crypto'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import type { Target } from '../harness/proxy.js'
import { startProxyWithUpstream } from '../harness/stack.js'
import { forEachTarget } from '../harness/targets.js'

/** The read-headers filter in front of an upstream; both stopped on teardown. */
async function readHeadersProxy(t: Test, target: Target) {
  const bundle = await bundled('test/filters/read-headers.ts')
  return startProxyWithUpstream(t, target, { filters: [nodevoyFilter({ name: 'read', bundle })] })
}

t.test('reading three request headers crosses once and copies only the header map', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy, upstream } = await readHeadersProxy(t, target)
    const res = await request(`${proxy.url}/lazy`, { headers: { 'x-a': 'one', 'x-b': 'two' } })
    t.equal(res.statusCode, 200)
    await res.body.text()
    const [crossings, bytes, seen] = String(res.headers['x-stats-request']).split(',')
    t.equal(crossings, '1', 'one crossing for the whole request header map, however many reads')
    t.equal(seen, 'one|two|-', 'the values read')
    const received = upstream.requests[0]!.headers
    const mapBytes = Object.entries(received).length
    t.ok(Number(bytes) > 20 && Number(bytes) < 1024, `${bytes} bytes copied: the header map only (${mapBytes} headers)`)
    const [responseCrossings] = String(res.headers['x-stats-response']).split(',')
    t.equal(responseCrossings, '1', 'setting response headers without reading them copies nothing')
  }),
)

t.test('a 1 MB upload through a filter that never reads the body copies 0 body bytes', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy, upstream } = await readHeadersProxy(t, target)
    const body = Buffer.alloc(1024 * 1024, 7)
    const res = await request(`${proxy.url}/upload`, { method: 'POST', body, headers: { 'x-a': 'a' } })
    t.equal(res.statusCode, 200)
    await res.body.text()
    t.equal(upstream.requests[0]!.bodyLength, body.length, 'the upstream got the whole body')
    t.equal(upstream.requests[0]!.bodySha256, createHash('sha256').update(body).digest('hex'), 'unchanged')
    const [, bytesAtRequest] = String(res.headers['x-stats-request']).split(',')
    const [crossings, bytesAtEnd] = String(res.headers['x-stats-response']).split(',')
    t.equal(bytesAtEnd, bytesAtRequest, 'no byte copied after the request headers: 0 body bytes')
    t.equal(crossings, '1', 'and no crossing for the body')
  }),
)

t.test('a 1 MB download through a filter that never reads the body copies 0 body bytes', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/read-headers.ts')
    const { proxy } = await startProxyWithUpstream(t, target, { filters: [nodevoyFilter({ name: 'read', bundle })] }, { concurrency: 1 })
    const res = await request(`${proxy.url}/bytes/${1024 * 1024}`)
    const body = Buffer.from(await res.body.arrayBuffer())
    t.equal(body.length, 1024 * 1024, 'the client got the whole body')
    const [crossingsAtHeaders, bytesAtHeaders] = String(res.headers['x-stats-response']).split(',')
    const last = await request(`${proxy.url}/last-stats`)
    const [crossingsAtEnd, bytesAtEnd] = (await last.body.text()).split(',')
    t.equal(bytesAtEnd, bytesAtHeaders, 'no byte copied after the response headers: 0 body bytes')
    t.equal(crossingsAtEnd, String(Number(crossingsAtHeaders) + 2), 'and no crossing for the body (only the two header sets)')
  }),
)
