// Callouts through Envoy clusters (issue 10): stream.fetch(cluster, path, init) over the ABI's
// start_http_stream (streamed) and http_callout (one-shot), with Envoy's failure semantics, ended
// with the stream and by an AbortSignal.
import http from 'node:http'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { Agent, request, setGlobalDispatcher } from 'undici'
import { bootstrap } from '../harness/config.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { startProxy, type Proxy } from '../harness/proxy.js'
import { forEachTarget } from '../harness/targets.js'

setGlobalDispatcher(new Agent({ headersTimeout: 15_000, bodyTimeout: 15_000 }))

interface Service {
  port: number
  requests: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string; trailers: Record<string, string | undefined> }[]
  /** /slow requests waiting for their answer now, and those answered. */
  slowOpen: number
  slowAnswered: number
}

// The cluster the callouts go to:
//   /echo      200, body = JSON of what arrived, x-seen-<header> for x-from-filter and x-forwarded-value
//   /chunks    three body writes 40 ms apart, then trailer x-response-trailer: done
//   /slow      answers after 5 s (counted in slowOpen while it waits)
async function startService(t: Test): Promise<Service> {
  const service: Service = { port: 0, requests: [], slowOpen: 0, slowAnswered: 0 }
  const timers = new Set<NodeJS.Timeout>()
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks).toString()
    service.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, trailers: { ...req.trailers } })
    if (req.url === '/slow') {
      service.slowOpen++
      const timer = setTimeout(() => {
        timers.delete(timer)
        service.slowAnswered++
        res.writeHead(200).end('late')
      }, 5000)
      timers.add(timer)
      res.on('close', () => {
        service.slowOpen--
        clearTimeout(timer)
        timers.delete(timer)
      })
      return
    }
    if (req.url === '/chunks') {
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-response-trailer' })
      for (let i = 0; i < 3; i++) {
        res.write(`part${i};`)
        await new Promise((r) => setTimeout(r, 40))
      }
      res.addTrailers({ 'x-response-trailer': 'done' })
      res.end()
      return
    }
    const seen: Record<string, string> = {}
    for (const name of ['x-from-filter', 'x-forwarded-value']) {
      if (req.headers[name]) seen[`x-seen-${name}`] = String(req.headers[name])
    }
    res.writeHead(200, { 'content-type': 'application/json', ...seen })
    res.end(JSON.stringify({ method: req.method, url: req.url, host: req.headers.host, body, trailer: req.trailers['x-request-trailer'] ?? null }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  service.port = (server.address() as AddressInfo).port
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer)
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return service
}

// A port with nothing listening (for connection failures).
async function closedPort(): Promise<number> {
  const probe = net.createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const port = (probe.address() as AddressInfo).port
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}

async function call(proxy: Proxy, headers: Record<string, string>) {
  const res = await request(`${proxy.url}/`, { headers })
  await res.body.text()
  const h = res.headers
  return {
    status: res.statusCode,
    calloutStatus: Number(h['x-callout-status']),
    body: decodeURIComponent(String(h['x-callout-body'] ?? '')),
    chunks: Number(h['x-callout-chunks']),
    trailer: String(h['x-callout-trailer'] ?? ''),
    headers: h,
    error: {
      name: String(h['x-error-name'] ?? ''),
      reason: String(h['x-error-reason'] ?? ''),
      code: String(h['x-error-code'] ?? ''),
      message: decodeURIComponent(String(h['x-error-message'] ?? '')),
    },
  }
}

async function start(t: Test, target: Parameters<typeof startProxy>[0]) {
  const service = await startService(t)
  const dead = await closedPort()
  const bundle = await bundled('test/filters/callouts.ts')
  const proxy = await startProxy(
    target,
    bootstrap({
      filters: [nodevoyFilter({ name: 'callouts', bundle })],
      routes: [{ prefix: '/', directResponse: { status: 200, body: 'direct' } }],
      clusters: { service: [service.port], dead: [dead] },
      http1Trailers: true,
    }),
    { concurrency: 2 },
  )
  t.teardown(() => proxy.stop())
  return { service, proxy }
}

t.test('streamed and one-shot callouts reach the cluster and bring its response back', (t) =>
  forEachTarget(t, async (t, target) => {
    const { service, proxy } = await start(t, target)
    const before = (await proxy.stat('cluster.service.upstream_rq_total')) ?? 0
    let r = await call(proxy, { 'x-forward': 'abc' })
    t.equal(r.status, 200)
    t.equal(r.calloutStatus, 200, 'streamed GET')
    t.same(JSON.parse(r.body), { method: 'GET', url: '/echo', host: 'service', body: '', trailer: null }, ':authority defaults to the cluster name')
    t.equal(r.headers['x-callout-header-x-from-filter'], 'yes', 'request headers went, response headers came back')
    t.equal(r.headers['x-callout-header-x-forwarded-value'], 'abc')
    r = await call(proxy, { 'x-method': 'POST', 'x-body': 'hello', 'x-buffered': '1' })
    t.equal(r.calloutStatus, 200, 'one-shot POST')
    t.same(JSON.parse(r.body).body, 'hello', 'its body arrived')
    t.equal(service.requests.at(-1)!.headers['content-length'], '5', 'a one-shot callout states its content-length')
    r = await call(proxy, { 'x-body-chunks': '3', 'x-trailer': 'end' })
    t.equal(r.calloutStatus, 200, 'streamed request body')
    t.same(JSON.parse(r.body), { method: 'POST', url: '/echo', host: 'service', body: 'chunk0|chunk1|chunk2|', trailer: 'end' }, 'chunks and trailers arrived')
    r = await call(proxy, { 'x-path': '/chunks' })
    t.equal(r.body, 'part0;part1;part2;')
    t.ok(r.chunks >= 2, `a streamed response arrives in pieces (${r.chunks})`)
    t.equal(r.trailer, 'done', 'response trailers')
    r = await call(proxy, { 'x-path': '/chunks', 'x-buffered': '1' })
    t.equal(r.body, 'part0;part1;part2;')
    t.equal(r.chunks, 1, 'a one-shot response arrives whole')
    t.equal(((await proxy.stat('cluster.service.upstream_rq_total')) ?? 0) - before, 5, "callouts count in the cluster's stats")
  }),
)

t.test("Envoy's failures: unknown cluster, unreachable upstream, timeout", (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await start(t, target)
    for (const buffered of ['0', '1']) {
      const kind = buffered === '1' ? 'one-shot' : 'streamed'
      let r = await call(proxy, { 'x-cluster': 'nowhere', 'x-buffered': buffered })
      t.equal(r.status, 502)
      t.equal(r.error.name, 'CalloutError', `${kind}: refused at start`)
      t.equal(r.error.reason, 'cluster_not_found')
      t.equal(r.error.code, 'NODEVOY_ERR_CALLOUT_FAILED')
      t.match(r.error.message, "Envoy has no cluster named 'nowhere'")
      r = await call(proxy, { 'x-cluster': 'dead', 'x-buffered': buffered })
      t.equal(r.calloutStatus, 503, `${kind}: an unreachable upstream is Envoy's 503 response`)
      t.match(r.body, /^upstream connect error or disconnect\/reset before headers\. reset reason: /)
      r = await call(proxy, { 'x-path': '/slow', 'x-timeout': '150', 'x-buffered': buffered })
      t.equal(r.calloutStatus, 504, `${kind}: the timeout before the response is Envoy's 504`)
      t.equal(r.body, 'upstream request timeout')
    }
  }),
)

t.test('an AbortSignal and the end of the stream cancel the callout', (t) =>
  forEachTarget(t, async (t, target) => {
    const { service, proxy } = await start(t, target)
    let r = await call(proxy, { 'x-path': '/slow', 'x-abort-after': '100' })
    t.equal(r.status, 502)
    t.equal(r.error.name, 'TimeoutError', "the signal's reason rejects the fetch")
    const waitFor = async (cond: () => boolean, what: string) => {
      const deadline = Date.now() + 5000
      while (!cond() && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20))
      t.ok(cond(), what)
      if (!cond()) t.comment(proxy.logs().slice(-3000))
    }
    // Whether or not the request had reached the service when the signal fired, nothing waits there now.
    await waitFor(() => service.slowOpen === 0, 'the streamed callout was reset: no request waits at the service')
    // A callout left running when the request goes on ends with the stream.
    const key = `detach-${Date.now()}`
    const res = await request(`${proxy.url}/`, { headers: { 'x-path': '/slow', 'x-detach': key } })
    t.equal(await res.body.text(), 'direct', 'the request went on without waiting')
    await new Promise((resolve) => setTimeout(resolve, 200))
    await waitFor(() => service.slowOpen === 0, 'the callout was cancelled when its stream ended')
    t.equal(service.slowAnswered, 0, 'no /slow request was ever answered (all were cancelled first)')
    let outcome = ''
    const deadline = Date.now() + 5000
    while (outcome === '' && Date.now() < deadline) {
      r = await call(proxy, { 'x-read-shared': key })
      outcome = String(r.headers['x-shared'])
    }
    t.match(outcome, /^AbortError: the stream is complete/, 'its promise rejected with an AbortError')
  }),
)
