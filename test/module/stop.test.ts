// A synchronous 'stop' holds the direction's body and trailers too, until continueRequest() /
// continueResponse() (issue 8, M3): with a body in several frames, nothing goes on before the
// continue, and everything arrives intact after it.
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import t from 'tap'
import { request } from 'undici'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { startProxyWithUpstream } from '../harness/stack.js'
import { forEachTarget } from '../harness/targets.js'

t.test("'stop' holds request and response bodies until continue", (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/stop-body.ts')
    const firstBodyByteAt: number[] = []
    const { proxy, upstream } = await startProxyWithUpstream(t, target, { filters: [nodevoyFilter({ name: 'stop', bundle })] }, {
      upstreamOptions: {
        onBodyChunk: () => {
          if (firstBodyByteAt.length === 0) firstBodyByteAt.push(Date.now())
        },
      },
    })
    const parts = [Buffer.alloc(40_000, 1), Buffer.alloc(40_000, 2), Buffer.alloc(40_000, 3)]
    const body = Readable.from(
      (async function* () {
        for (const part of parts) {
          yield part
          await new Promise((r) => setTimeout(r, 20))
        }
      })(),
    )
    const sent = Date.now()
    const res = await request(`${proxy.url}/bytes/200000`, { method: 'POST', body, headers: { 'content-length': String(120_000) } })
    const received = Buffer.from(await res.body.arrayBuffer())
    t.equal(res.statusCode, 200)
    const seen = upstream.requests[0]!
    t.equal(seen.headers['x-request-continued'], 'yes', 'the upstream got the request only after continueRequest()')
    t.ok(firstBodyByteAt[0]! - sent >= 140, `and no body byte before it (first after ${firstBodyByteAt[0]! - sent} ms)`)
    t.equal(seen.bodySha256, createHash('sha256').update(Buffer.concat(parts)).digest('hex'), 'the request body arrived whole')
    t.equal(res.headers['x-response-continued'], 'yes', 'the response headers went downstream only after continueResponse()')
    t.equal(received.length, 200_000, 'the response body arrived whole')
  }),
)
