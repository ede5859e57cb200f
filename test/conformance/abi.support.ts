// Shared by the conformance tests of control flow, schedulers, lifetime, state and observability
// (control, scheduler, lifetime, state, observability, config .test.ts): probe filter definitions,
// an HTTP client on fresh connections that also reports its local port and supports request
// trailers, a raw-socket exchange for resets, the probe's `globals`, and polling with a deadline.
// headers-bodies.support.ts builds on its probe definition, report decoders and response reader.
// The probe's protocol is in test/modules/README.md.
import http from 'node:http'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { ModuleFilterDef } from '../harness/config.js'
import type { Proxy } from '../harness/proxy.js'

/** A probe instance: HTTP filter `probe-<label>` (also its filter_name unless given) with that label. */
export function probe(label: string, config: Record<string, unknown> = {}, def: Partial<ModuleFilterDef> = {}): ModuleFilterDef {
  return { name: `probe-${label}`, module: 'probe', config: { label, ...config }, ...def }
}

export interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
  trailers: NodeJS.Dict<string>
  /** The client socket's local port (the proxy sees it as the source port). */
  localPort: number
}

export interface SendOptions {
  method?: string
  path?: string
  headers?: Record<string, string>
  /** Body pieces, each written with its own write(); without content-length the body is chunked. */
  body?: string | string[]
  /** Request trailers (the body is then sent chunked). */
  trailers?: Record<string, string>
}

/** One request with node:http on a new connection (agent: false). */
export function send(proxy: Proxy | string, opts: SendOptions = {}): Promise<Reply> {
  const url = new URL(typeof proxy === 'string' ? proxy : proxy.url)
  return new Promise((resolve, reject) => {
    let localPort = 0
    const pieces = opts.body === undefined ? [] : Array.isArray(opts.body) ? opts.body : [opts.body]
    const req = http.request({
      host: url.hostname,
      port: Number(url.port),
      method: opts.method ?? (opts.body !== undefined || opts.trailers ? 'POST' : 'GET'),
      path: opts.path ?? '/',
      headers: opts.headers ?? {},
      agent: false,
    })
    req.on('socket', (socket) => {
      const record = () => (localPort = socket.localPort ?? 0)
      if (socket.localPort) record()
      else socket.once('connect', record)
    })
    req.on('error', reject)
    req.on('response', (res) =>
      readResponse(res).then((r) => resolve({ ...r, body: r.body.toString('utf8'), localPort }), reject),
    )
    if (opts.trailers && opts.body === undefined) req.setHeader('transfer-encoding', 'chunked')
    const single = pieces.length === 1 && !opts.trailers && !req.hasHeader('transfer-encoding')
    if (single && !req.hasHeader('content-length')) req.setHeader('content-length', Buffer.byteLength(pieces[0]!))
    for (const piece of pieces) req.write(piece)
    if (opts.trailers) req.addTrailers(opts.trailers)
    req.end()
  })
}

export interface NodeResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  trailers: NodeJS.Dict<string>
}

/** Reads a node:http response to its end: status, headers, the body's bytes, trailers. */
export function readResponse(res: http.IncomingMessage): Promise<NodeResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    res.on('data', (c: Buffer) => chunks.push(c))
    res.on('error', reject)
    res.on('end', () =>
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), trailers: res.trailers }),
    )
  })
}

/** Response headers as node:http gives them, or as a raw exchange collects them. */
export type HeaderBag = Record<string, string | string[] | undefined>

/** The value of report `name` of instance `label` (x-probe-<label>-<name>), or undefined. */
export function rep(reply: { headers: HeaderBag }, label: string, name: string): string | undefined {
  const v = reply.headers[`x-probe-${label}-${name}`]
  return Array.isArray(v) ? v.join(',') : v
}

/** Every x-probe-<label>-* response header. */
export function reportsOf(reply: { headers: http.IncomingHttpHeaders }, label: string): string[] {
  return Object.keys(reply.headers).filter((k) => k.startsWith(`x-probe-${label}-`))
}

/** A strict comma-separated list (hooks, frame sizes). */
export function list(value: string | undefined): string[] {
  if (value === undefined || value === '') return []
  return value.split(',').map(decodeURIComponent)
}

/** A `k=v,k=v` report (metric results, log-enabled) as an object. */
export function pairs(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const item of (value ?? '').split(',')) {
    const i = item.indexOf('=')
    if (i > 0) out[item.slice(0, i)] = item.slice(i + 1)
  }
  return out
}

/** The probe's process-wide counters, answered by the instance with that label. */
export async function globals(proxy: Proxy, label: string): Promise<Record<string, any>> {
  const reply = await send(proxy, { headers: { 'x-probe': `globals@${label}` } })
  if (reply.status !== 200) throw new Error(`globals@${label}: status ${reply.status}: ${reply.body}`)
  return JSON.parse(reply.body) as Record<string, any>
}

/**
 * Calls fn until ok(value) holds or the deadline passes; returns the last value either way, so the
 * caller's assertions report what was seen. For asynchronous effects (late commits, deferred
 * destroys), never for timing.
 */
export async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let value = await fn()
  while (!ok(value) && Date.now() < deadline) {
    await sleep(25)
    value = await fn()
  }
  return value
}

export interface RawResult {
  /** Everything the proxy sent before the connection ended. */
  data: string
  /** The proxy closed (or reset) the connection. False when the wait ran out first. */
  closed: boolean
}

/** Writes `text` on a raw connection and collects what comes back until the connection ends. */
export function rawExchange(port: number, text: string, timeoutMs = 15_000): Promise<RawResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    let data = ''
    let settled = false
    const finish = (closed: boolean) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ data, closed })
    }
    const timer = setTimeout(() => finish(false), timeoutMs)
    socket.on('data', (c: Buffer) => (data += c.toString('latin1')))
    socket.on('end', () => finish(true))
    socket.on('close', () => finish(true))
    socket.on('error', () => finish(true))
    socket.write(text)
  })
}

/** A raw GET request with the given extra header lines. */
export function rawGet(path: string, headers: Record<string, string>, connectionClose = true): string {
  const lines = [`GET ${path} HTTP/1.1`, 'host: 127.0.0.1']
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`)
  if (connectionClose) lines.push('connection: close')
  return lines.join('\r\n') + '\r\n\r\n'
}

/** The number of HTTP/1.1 status lines in raw response data. */
export function statusLines(data: string): number {
  return (data.match(/^HTTP\/1\.1 \d{3} /gm) ?? []).length
}
