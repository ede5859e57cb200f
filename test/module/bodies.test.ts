// Bodies and trailers through the SDK (issue 9): whole-body reads that hold the stream, rewrites
// with content-length kept right, per-chunk hooks that see every byte once, streaming with
// backpressure and bounded memory, trailers both ways, and the response path's limits. Bodies are
// sent in several frames, with content-length and chunked.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import { Readable } from 'node:stream'
import t from 'tap'
import { request } from 'undici'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import type { Proxy } from '../harness/proxy.js'
import { startProxyWithUpstream } from '../harness/stack.js'
import { forEachTarget } from '../harness/targets.js'
import { linesNamed, rawExchange } from '../harness/raw-http.js'

/** A body sent in `parts` frames, with a pause between them (so the proxy sees several frames). */
function framed(data: Buffer, parts: number): Readable {
  const size = Math.ceil(data.length / parts)
  return Readable.from(
    (async function* () {
      for (let i = 0; i < data.length; i += size) {
        yield data.subarray(i, i + size)
        await new Promise((r) => setTimeout(r, 5))
      }
    })(),
  )
}

async function post(proxy: Proxy, path: string, data: Buffer, chunked: boolean, parts = 4) {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (!chunked) headers['content-length'] = String(data.length)
  const res = await request(`${proxy.url}${path}`, { method: 'POST', body: framed(data, parts), headers })
  const body = await res.body.text()
  return { status: res.statusCode, headers: res.headers, body }
}

function rssKiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1])
}

t.test('a JSON request body is validated and rewritten before it goes on (content-length and chunked)', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/bodies.ts')
    const { proxy, upstream } = await startProxyWithUpstream(t, target, { filters: [nodevoyFilter({ name: 'bodies', bundle })] })
    for (const chunked of [false, true]) {
      const how = chunked ? 'chunked' : 'content-length'
      const ok = await post(proxy, '/json', Buffer.from(JSON.stringify({ name: 'ada', pad: 'x'.repeat(3000) })), chunked)
      t.equal(ok.status, 200, `${how}: a valid body passes`)
      const seen = upstream.requests.at(-1)!
      const expected = JSON.stringify({ name: 'ada', greeting: 'hello ada' })
      t.equal(seen.body, expected, `${how}: the upstream got the rewritten body`)
      t.equal(seen.headers['x-validated'], 'yes', `${how}: and the header set after the await`)
      if (!chunked) t.equal(seen.headers['content-length'], String(expected.length), 'content-length follows the new body')
      const before = upstream.requests.length
      const bad = await post(proxy, '/json', Buffer.from('{"name": 42}'), chunked)
      t.equal(bad.status, 400, `${how}: a body without a string name gets 400`)
      t.equal(bad.body, 'a string "name" is required')
      const broken = await post(proxy, '/json', Buffer.from('{"name": "x"'), chunked)
      t.equal(broken.status, 400, `${how}: invalid JSON gets 400`)
      t.match(broken.body, /^invalid JSON: /)
      t.equal(upstream.requests.length, before, `${how}: refused bodies never reach the upstream`)
    }
  }),
)

t.test('a response body is read whole and rewritten (content-length and chunked upstream)', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/bodies.ts')
    const { proxy } = await startProxyWithUpstream(t, target, { filters: [nodevoyFilter({ name: 'bodies', bundle })] }, {
      handler: async (req, res) => {
        const text = `hello from ${req.url} `.repeat(200)
        if (req.url.includes('chunked')) {
          res.writeHead(200, { 'content-type': 'text/plain' })
          for (let i = 0; i < text.length; i += 1000) {
            res.write(text.slice(i, i + 1000))
            await new Promise((r) => setTimeout(r, 5))
          }
          res.end()
        } else {
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) })
          res.end(text)
        }
      },
    })
    for (const path of ['/upper', '/upper-chunked']) {
      const res = await request(`${proxy.url}${path}`)
      const body = await res.body.text()
      t.equal(res.statusCode, 200)
      t.equal(body, `hello from ${path} `.repeat(200).toUpperCase(), `${path}: the client got the rewritten body`)
      t.equal(res.headers['x-rewritten'], 'yes')
      if (res.headers['content-length'] !== undefined) t.equal(res.headers['content-length'], String(body.length))
    }
  }),
)

t.test('a body hook sees every byte once, in order, and can change chunks; trailers both ways', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/bodies.ts')
    const { proxy, upstream } = await startProxyWithUpstream(
      t,
      target,
      { filters: [nodevoyFilter({ name: 'bodies', bundle })], http1Trailers: true },
      {
        handler: async (req, res) => {
          res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-upstream-trailer' })
          res.write(`got ${req.bodyLength} bytes, sha ${req.bodySha256}; request trailers ${JSON.stringify(req.trailers)}`)
          res.addTrailers({ 'x-upstream-trailer': 'done' })
          res.end()
        },
      },
    )
    const data = Buffer.from('x-x:' + 'abcdefgh'.repeat(20_000) + ':x-x')
    const expected = Buffer.from(data.toString('latin1').replaceAll('x-x', 'x-y'), 'latin1')
    // A chunked request with a trailer, written in pieces so the proxy sees several frames.
    const pieces = [Buffer.from('POST /count HTTP/1.1\r\nhost: test\r\nconnection: close\r\ntransfer-encoding: chunked\r\ntrailer: x-t\r\n\r\n')]
    for (let i = 0; i < data.length; i += 40_000) {
      const part = data.subarray(i, i + 40_000)
      pieces.push(Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]))
    }
    pieces.push(Buffer.from('0\r\nx-t: tee\r\n\r\n'))
    const res = await rawExchange(proxy.port, pieces)
    const header = (name: string) => linesNamed(res.head, name)[0]?.toString('latin1').replace(/^[^:]+: /, '')
    t.equal(res.status, 200)
    t.equal(header('x-request-bytes'), String(data.length), 'every byte reached the hook once')
    t.ok(Number(header('x-request-chunks')) >= 2, `in ${header('x-request-chunks')} chunks`)
    t.equal(header('x-request-end'), 'false', 'trailers, not a body frame, ended the request')
    const seen = upstream.requests.at(-1)!
    t.equal(seen.bodySha256, createHash('sha256').update(expected).digest('hex'), 'chunk rewrites reached the upstream (x-x became x-y)')
    t.equal(seen.trailers['x-seen'], 't=tee', 'the request trailer was read and one added')
    t.equal(seen.trailers['x-t'], 'tee')
    const body = res.body.toString('latin1')
    t.match(body, /request trailers/)
    t.match(body, /x-upstream-trailer: done\r\n/, 'the upstream trailer reached the client')
    t.match(body, /x-resp-seen: done\r\n/, 'and the one the filter added to it')
  }),
)

t.test('for await streams a large upload with backpressure and bounded memory', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/bodies.ts')
    // A long route timeout: on a loaded CI machine the upload can take longer than Envoy's 15 s default.
    const { proxy, upstream } = await startProxyWithUpstream(t, target, { filters: [nodevoyFilter({ name: 'bodies', bundle })], routes: [{ timeout: '120s' }] }, {
      concurrency: 1,
      handler: (req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ length: req.bodyLength, sha: req.bodySha256 }))
      },
    })
    const total = 256 << 20
    const block = Buffer.alloc(1 << 20)
    for (let i = 0; i < block.length; i++) block[i] = (i * 31) & 0xff
    const hash = createHash('sha256')
    for (let sent = 0; sent < total; sent += block.length) hash.update(block)
    const sha = hash.digest('hex')
    // Warm up, then measure the proxy's RSS while the upload runs.
    await post(proxy, '/stream', Buffer.alloc(1000), false, 1)
    const before = rssKiB(proxy.process.pid!)
    let peak = before
    const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(proxy.process.pid!))), 20)
    const started = Date.now()
    const res = await request(`${proxy.url}/stream`, {
      method: 'POST',
      headers: { 'content-length': String(total) },
      body: Readable.from(
        (function* () {
          for (let sent = 0; sent < total; sent += block.length) yield block
        })(),
      ),
    })
    const answer = (await res.body.json()) as { length: number; sha: string }
    clearInterval(sampler)
    t.equal(res.statusCode, 200)
    t.equal(answer.length, total, 'the upstream got every byte')
    t.equal(answer.sha, sha, 'unchanged')
    t.equal(res.headers['x-request-sha256'], `${sha}:${total}`, 'the filter hashed every byte as it passed')
    t.ok(peak - before < 96 * 1024, `the proxy's RSS grew ${((peak - before) / 1024).toFixed(1)} MiB for a ${total >> 20} MiB upload (limit 96 MiB) in ${Date.now() - started} ms`)
    t.equal(upstream.requests.length, 2)
  }),
)

t.test('a local reply from the response path after the headers went downstream resets the stream', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/bodies.ts')
    const { proxy } = await startProxyWithUpstream(t, target, { filters: [nodevoyFilter({ name: 'bodies', bundle })] }, {
      handler: async (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' })
        res.write('part one ')
        await new Promise((r) => setTimeout(r, 20))
        res.end('part two')
      },
    })
    const outcome = await request(`${proxy.url}/late-reply`).then(
      async (res) => {
        try {
          await res.body.text()
          return `complete ${res.statusCode}`
        } catch (error) {
          return `reset after ${res.statusCode} headers: ${(error as Error).message}`
        }
      },
      (error: Error) => `reset: ${error.message}`,
    )
    t.match(outcome, /^reset/, `the client sees a reset, never a hang (${outcome})`)
    const replaced = await request(`${proxy.url}/resp-reply`)
    t.equal(replaced.statusCode, 418, 'a local reply from onResponseHeaders replaces the response')
    t.equal(await replaced.body.text(), 'replaced a 200')
    const res = await request(`${proxy.url}/passthrough`)
    await res.body.text()
    t.equal(res.statusCode, 200, 'the proxy keeps serving')
  }),
)
