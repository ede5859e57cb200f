// Shared by headers.test.ts and bodies.test.ts: a chain of two probe instances (labels a and b, in
// that order, in front of the router) over a local upstream, plus small HTTP clients that can do what
// undici cannot (mixed-case names on the wire, body pieces with waits between them, request trailers)
// and the decoders for the probe's report formats (test/modules/README.md §2.3). What it shares with the
// other conformance tests (the probe definition, the report decoders, the response reader) comes from
// abi.support.ts.
import http from 'node:http'
import net from 'node:net'
import type { Test } from 'tap'
import type { BootstrapDef } from '../harness/config.js'
import type { Target } from '../harness/proxy.js'
import { startProxyWithUpstream, type ProxyWithUpstream } from '../harness/stack.js'
import type { Handler, UpstreamOptions } from '../harness/upstream.js'
import { probe, readResponse, rep, type HeaderBag, type NodeResponse } from './abi.support.js'

export { list as parseList } from './abi.support.js'
export type { HeaderBag, NodeResponse }

export interface ChainOptions {
  handler?: Handler
  upstreamOptions?: UpstreamOptions
  bufferLimitBytes?: number
  /** Http1ProtocolOptions.enable_trailers on the listener and the cluster (off by default in Envoy). */
  http1Trailers?: boolean
  routes?: BootstrapDef['routes']
}

export type Chain = ProxyWithUpstream

/** Probe instances a and b in front of the router, an upstream as cluster `backend`; both stopped on teardown. */
export function probeChain(t: Test, target: Target, opts: ChainOptions = {}): Promise<Chain> {
  const instance = (label: string) => probe(label, { config_scheduler: false })
  return startProxyWithUpstream(
    t,
    target,
    {
      filters: [instance('a'), instance('b')],
      ...(opts.routes ? { routes: opts.routes } : {}),
      ...(opts.bufferLimitBytes ? { bufferLimitBytes: opts.bufferLimitBytes } : {}),
      ...(opts.http1Trailers ? { http1Trailers: true } : {}),
    },
    { handler: opts.handler, upstreamOptions: opts.upstreamOptions },
  )
}

/** The value of report `name` of instance `label`: header x-probe-<label>-<name>. */
export function report(headers: HeaderBag, label: string, name: string): string | undefined {
  return rep({ headers }, label, name)
}

/** A strict dump `k=v&k=v` as [key, value] pairs, in order. */
export function parseDump(dump: string | undefined): [string, string][] {
  if (dump === undefined) return []
  return [...new URLSearchParams(dump)]
}

/** 32-bit FNV-1a as 8 lower-case hex digits, as the probe reports it. */
export function fnv1a(data: Buffer | string): string {
  const buf = typeof data === 'string' ? Buffer.from(data) : data
  let h = 0x811c9dc5
  for (const b of buf) {
    h ^= b
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h.toString(16).padStart(8, '0')
}

export interface NodeRequestOptions {
  method?: string
  path?: string
  /** Header lines in order; names are sent exactly as given (case kept), one line per pair. */
  headers?: [string, string][]
  /** Body pieces, each written with its own write(). Without pieces the request has no body. */
  pieces?: (Buffer | string)[]
  /** Awaited before piece i > 0 is written (to wait for the previous piece to get through). */
  beforePiece?: (index: number) => Promise<void>
  /** Request trailers (the body is then sent chunked). */
  trailers?: Record<string, string>
}

/**
 * A request with node:http on a fresh connection. Without a content-length header among `headers`,
 * a request with pieces or trailers is sent with chunked encoding.
 */
export function nodeRequest(port: number, opts: NodeRequestOptions = {}): Promise<NodeResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: opts.method ?? (opts.pieces ? 'POST' : 'GET'),
      path: opts.path ?? '/',
      agent: false,
      setHost: true,
    })
    const seen = new Map<string, string[]>()
    for (const [k, v] of opts.headers ?? []) {
      const list = seen.get(k) ?? []
      list.push(v)
      seen.set(k, list)
    }
    for (const [k, v] of seen) req.setHeader(k, v.length === 1 ? v[0]! : v)
    req.on('error', reject)
    req.on('response', (res) => readResponse(res).then(resolve, reject))
    const write = async () => {
      const pieces = opts.pieces ?? []
      for (let i = 0; i < pieces.length; i++) {
        if (i > 0 && opts.beforePiece) await opts.beforePiece(i)
        req.write(pieces[i]!)
        if (i === 0) req.flushHeaders()
      }
      if (opts.trailers) req.addTrailers(opts.trailers)
      req.end()
    }
    if (!opts.pieces && opts.trailers) req.setHeader('transfer-encoding', 'chunked')
    write().catch(reject)
  })
}

export interface RawResponse {
  status: number
  headers: [string, string][]
  body: Buffer
}

/**
 * Writes `data` on a raw connection and reads one HTTP/1.1 response (content-length or chunked body).
 * Resolves as soon as the response is complete, so a reset that follows it does not matter.
 */
export function rawExchange(port: number, data: Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    let received = Buffer.alloc(0)
    let done = false
    socket.on('data', (c: Buffer) => {
      received = Buffer.concat([received, c])
      const parsed = parseResponse(received)
      if (parsed && !done) {
        done = true
        socket.destroy()
        resolve(parsed)
      }
    })
    const closed = (err?: Error) => {
      if (done) return
      done = true
      socket.destroy()
      reject(err ?? new Error(`connection closed before a complete response: ${JSON.stringify(received.toString('latin1'))}`))
    }
    socket.on('close', () => closed())
    // A write error (the proxy stopped reading) is not fatal: the response may still be readable.
    socket.on('error', () => {})
    socket.write(data)
  })
}

function parseResponse(data: Buffer): RawResponse | null {
  const end = data.indexOf('\r\n\r\n')
  if (end < 0) return null
  const head = data.subarray(0, end).toString('latin1').split('\r\n')
  const status = Number(head[0]!.split(' ')[1])
  const headers: [string, string][] = head.slice(1).map((line) => {
    const i = line.indexOf(':')
    return [line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim()]
  })
  const get = (k: string) => headers.find(([n]) => n === k)?.[1]
  let rest = data.subarray(end + 4)
  const length = get('content-length')
  if (length !== undefined) {
    if (rest.length < Number(length)) return null
    return { status, headers, body: rest.subarray(0, Number(length)) }
  }
  if (get('transfer-encoding') === 'chunked') {
    const parts: Buffer[] = []
    for (;;) {
      const lineEnd = rest.indexOf('\r\n')
      if (lineEnd < 0) return null
      const size = parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16)
      if (size === 0) return { status, headers, body: Buffer.concat(parts) }
      if (rest.length < lineEnd + 2 + size + 2) return null
      parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size))
      rest = rest.subarray(lineEnd + 2 + size + 2)
    }
  }
  return { status, headers, body: rest }
}

/** A byte counter that tests can wait on: reach(n) resolves once add() has brought it to n. */
export class Progress {
  private waiters: { target: number; resolve: () => void }[] = []
  value = 0
  add(n: number): void {
    this.value += n
    this.waiters = this.waiters.filter((w) => {
      if (this.value >= w.target) w.resolve()
      return this.value < w.target
    })
  }
  reach(target: number): Promise<void> {
    if (this.value >= target) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push({ target, resolve }))
  }
}
