// A small upstream HTTP/1.1 server for tests, on 127.0.0.1 and an OS-chosen port. It answers with
// JSON describing what it received, so tests can check what the proxy forwarded.
import http from 'node:http'
import { createHash } from 'node:crypto'
import type { AddressInfo } from 'node:net'

export interface ReceivedRequest {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  trailers: Record<string, string | undefined>
  bodyLength: number
  bodySha256: string
  body: string
}

export type Handler = (req: ReceivedRequest, res: http.ServerResponse) => void | Promise<void>

export interface UpstreamOptions {
  /** Called for every piece of a request body as it arrives, before the request is complete. */
  onBodyChunk?: (req: http.IncomingMessage, chunk: Buffer) => void
}

export interface Upstream {
  port: number
  requests: ReceivedRequest[]
  close(): Promise<void>
}

// Default behaviour: 200 with the request as JSON. Paths:
//   /status/<code>      answer with that code
//   /delay/<ms>         answer after a delay
//   /chunked            a chunked body in three writes, with trailer x-upstream-trailer
//   /bytes/<n>          n bytes of 'a'
export async function startUpstream(handler?: Handler, options: UpstreamOptions = {}): Promise<Upstream> {
  const requests: ReceivedRequest[] = []
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) {
      chunks.push(chunk as Buffer)
      options.onBodyChunk?.(req, chunk as Buffer)
    }
    const body = Buffer.concat(chunks)
    const received: ReceivedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      trailers: req.trailers,
      bodyLength: body.length,
      bodySha256: createHash('sha256').update(body).digest('hex'),
      body: body.length <= 4096 ? body.toString('latin1') : '',
    }
    requests.push(received)
    if (handler) return handler(received, res)
    await defaultHandler(received, res)
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

async function defaultHandler(req: ReceivedRequest, res: http.ServerResponse): Promise<void> {
  const status = /^\/status\/(\d{3})/.exec(req.url)
  const delay = /^\/delay\/(\d+)/.exec(req.url)
  const bytes = /^\/bytes\/(\d+)/.exec(req.url)
  if (delay) await new Promise((r) => setTimeout(r, Number(delay[1])))
  if (req.url.startsWith('/chunked')) {
    res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-upstream-trailer' })
    for (const part of ['one,', 'two,', 'three']) {
      res.write(part)
      await new Promise((r) => setTimeout(r, 20))
    }
    res.addTrailers({ 'x-upstream-trailer': 'done' })
    res.end()
    return
  }
  if (bytes) {
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    res.end(Buffer.alloc(Number(bytes[1]), 'a'))
    return
  }
  const payload = JSON.stringify(req)
  res.writeHead(status ? Number(status[1]) : 200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    'x-upstream': 'yes',
  })
  res.end(payload)
}

export interface EarlyUpstream {
  port: number
  /** Resolves once the upstream has answered its first request. */
  answered: Promise<void>
  close(): Promise<void>
}

/**
 * An upstream that answers 200 "early" as soon as a request's headers arrive, before reading its body:
 * for responses that start while the request body is still coming.
 */
export async function startEarlyUpstream(): Promise<EarlyUpstream> {
  let answered!: () => void
  const answeredPromise = new Promise<void>((resolve) => (answered = resolve))
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end('early')
    answered()
    req.resume()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    answered: answeredPromise,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
