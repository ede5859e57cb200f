// The testing kit's model of one stream through one nodevoy filter, in two halves that talk through
// the same operations as the real ones through the module ABI:
//   - ModuleStream restates libnodevoy's Stream (host/module/stream.cc): one state per direction
//     (Idle/InHook/Pending/Stopped/Done), mailboxes applied on scheduled events, whole-body reads that
//     hold a direction, streaming readers, catch-up of what arrived while a direction was held,
//     content-length kept right on body writes, failures answered 500 (or a reset) unless failOpen;
//   - EnvoyStream restates Envoy's filter manager for a chain of this one filter and the router (the
//     dev host's ActiveStream, host/devhost/stream.cc): headers/data/trailers iteration with Stop and
//     Continue statuses, buffering with a limit (413/500), local replies through the encoder path
//     (skipping the sender's own encode hooks), stream_complete then a deferred destroy.
// The router hands the complete request to the test's upstream function and streams its response
// back frame by frame, HTTP/1-style: each body frame, then an empty end-of-stream frame (or trailers).
// Differences from the real thing, on purpose: a hook's promise never settles inside the hook (Node
// cannot drain microtasks synchronously here), so an async hook always holds its direction and
// resumes through a scheduled event; that changes timing, never outcomes.
import { BodyMode, BodyPart, BodyReadState, BodyWrite, Direction, HookKind, Action, SchedulerEvent, HeaderMapType } from '../internal/contract.js'

// ---- Byte and header containers (Envoy's) -------------------------------------------------------

export class HeaderList {
  entries: [string, string][] = []

  static from(pairs: Iterable<readonly [string, string]>): HeaderList {
    const list = new HeaderList()
    for (const [k, v] of pairs) list.add(k, v)
    return list
  }

  add(key: string, value: string): void {
    const k = key.toLowerCase()
    if (k.startsWith(':')) {
      const at = this.entries.findIndex(([e]) => !e.startsWith(':'))
      this.entries.splice(at < 0 ? this.entries.length : at, 0, [k, value])
      return
    }
    this.entries.push([k, value])
  }

  /** Envoy's setCopy: every value goes, the new one is added at the end. */
  set(key: string, value: string): void {
    this.remove(key)
    this.add(key, value)
  }

  remove(key: string): number {
    const k = key.toLowerCase()
    const before = this.entries.length
    this.entries = this.entries.filter(([e]) => e !== k)
    return before - this.entries.length
  }

  get(key: string, index = 0): string | undefined {
    const k = key.toLowerCase()
    for (const [e, v] of this.entries) {
      if (e === k) {
        if (index === 0) return v
        index--
      }
    }
    return undefined
  }

  count(key: string): number {
    const k = key.toLowerCase()
    return this.entries.filter(([e]) => e === k).length
  }

  clone(): HeaderList {
    const copy = new HeaderList()
    copy.entries = this.entries.map(([k, v]) => [k, v])
    return copy
  }
}

export class BodyBuffer {
  slices: Uint8Array[] = []

  get length(): number {
    return this.slices.reduce((n, s) => n + s.length, 0)
  }

  append(bytes: Uint8Array): void {
    if (bytes.length > 0) this.slices.push(bytes)
  }

  move(other: BodyBuffer): void {
    this.slices.push(...other.slices)
    other.slices = []
  }

  drain(n: number): void {
    while (n > 0 && this.slices.length > 0) {
      const front = this.slices[0]!
      if (n >= front.length) {
        n -= front.length
        this.slices.shift()
      } else {
        this.slices[0] = front.subarray(n)
        n = 0
      }
    }
  }

  clear(): void {
    this.slices = []
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.length)
    let offset = 0
    for (const s of this.slices) {
      out.set(s, offset)
      offset += s.length
    }
    return out
  }
}

const encoder = new TextEncoder()

export function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === 'string' ? encoder.encode(data) : data
}

// ---- ABI values ----------------------------------------------------------------------------------

const H_CONTINUE = 0
const H_STOP = 1
const H_STOP_ALL_BUFFER = 3
const H_STOP_ALL_WATERMARK = 4
const B_CONTINUE = 0
const B_STOP_BUFFER = 1
const B_STOP_WATERMARK = 2
const B_STOP_NO_BUFFER = 3
const T_CONTINUE = 0
const T_STOP = 1

/** The ABI's body types. */
export const enum BodyType {
  ReceivedRequest = 0,
  BufferedRequest = 1,
  ReceivedResponse = 2,
  BufferedResponse = 3,
}

// ---- The Envoy side ---------------------------------------------------------------------------

/** A request as the test's upstream receives it. */
export interface UpstreamRequest {
  /** `:method`. */
  method: string
  /** `:path`, with the query. */
  path: string
  /** Every header as it reached the upstream (pseudo-headers first), names lower-cased. */
  headers: [string, string][]
  /** The whole request body. */
  body: Uint8Array
  /** The request trailers (empty when none). */
  trailers: [string, string][]
}

/** What the test's upstream answers. */
export interface UpstreamAnswer {
  /** The response status. */
  status: number
  /** Response headers. */
  headers?: Iterable<readonly [string, string]> | Record<string, string>
  /** The body: one frame per element when an array. */
  body?: string | Uint8Array | (string | Uint8Array)[]
  /** Response trailers. */
  trailers?: Iterable<readonly [string, string]> | Record<string, string>
}

/** The upstream of a test request: answers the request that reached it. */
export type UpstreamFn = (request: UpstreamRequest) => UpstreamAnswer | Promise<UpstreamAnswer>

/** What reached the client. */
export interface Downstream {
  headers?: HeaderList
  body: BodyBuffer
  trailers?: HeaderList
  complete: boolean
  reset: boolean
}

/** What one stream's Envoy side offers the module side (the ABI's callbacks). */
export interface EnvoyCalls {
  headers(type: HeaderMapType): HeaderList | undefined
  body(type: BodyType): BodyBuffer | undefined
  /** append_body: creates an absent buffered body. */
  appendBody(type: BodyType, bytes: Uint8Array): boolean
  drainBody(type: BodyType, n: number): boolean
  receivedIsBuffered(direction: Direction): boolean
  sendResponse(status: number, headers: [string, string][], body: Uint8Array, details: string): void
  resetStream(details: string): void
  continueDecoding(): void
  continueEncoding(): void
  schedulerCommit(event: SchedulerEvent): void
}

interface DirState {
  headers?: HeaderList
  trailers?: HeaderList
  buffered: BodyBuffer
  hasBuffered: boolean
  received?: BodyBuffer
  remoteComplete: boolean
  aborted: boolean
  sinkComplete: boolean
  // The filter's own iteration state in this direction (one filter: the slot's DirState).
  iteration: 'continue' | 'stop-single' | 'stop-all'
  headersContinued: boolean
  endStreamSeen: boolean
}

function dirState(): DirState {
  return {
    buffered: new BodyBuffer(),
    hasBuffered: false,
    remoteComplete: false,
    aborted: false,
    sinkComplete: false,
    iteration: 'continue',
    headersContinued: false,
    endStreamSeen: false,
  }
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']

/** The filter's hooks as Envoy calls them (implemented by ModuleStream). */
export interface FilterHooksAbi {
  headers(kind: HookKind.RequestHeaders | HookKind.ResponseHeaders, endOfStream: boolean): number
  body(kind: HookKind.RequestBody | HookKind.ResponseBody, endOfStream: boolean): number
  trailers(kind: HookKind.RequestTrailers | HookKind.ResponseTrailers): number
  complete(): void
  destroy(): void
  scheduled(event: SchedulerEvent): void
}

export interface EnvoyStreamOptions {
  bufferLimit: number
  upstream: UpstreamFn
  /** Runs the callback later on this "worker" (Envoy's dispatcher post). */
  post: (fn: () => void) => void
  /** The details of the last local reply or reset, for results. */
  onDetails?: (details: string) => void
}

export class EnvoyStream implements EnvoyCalls {
  readonly dirs: [DirState, DirState] = [dirState(), dirState()]
  readonly downstream: Downstream = { body: new BodyBuffer(), complete: false, reset: false }
  upstreamRequest: UpstreamRequest | undefined
  details = ''
  responseCode = 0
  ended = false
  hookDepth = 0
  #filter: FilterHooksAbi | undefined
  #sentLocalReply = false
  #destroyed = false
  #responseStarted = false
  #routerDone = false
  #requestBody = new BodyBuffer()
  #opts: EnvoyStreamOptions
  readonly finished: Promise<void>
  #finish!: () => void

  constructor(options: EnvoyStreamOptions) {
    this.#opts = options
    this.finished = new Promise<void>((resolve) => (this.#finish = resolve))
  }

  attach(filter: FilterHooksAbi): void {
    this.#filter = filter
  }

  // ---- From the client ----
  decodeHeaders(headers: HeaderList, endStream: boolean): void {
    for (const name of HOP_BY_HOP) headers.remove(name)
    if (!headers.get(':scheme')) headers.set(':scheme', 'http')
    if (!headers.get('x-forwarded-proto')) headers.set('x-forwarded-proto', 'http')
    if (!headers.get('x-request-id')) headers.set('x-request-id', globalThis.crypto.randomUUID())
    const ds = this.dirs[0]
    ds.headers = headers
    ds.remoteComplete = endStream
    this.#iterateHeaders(0, endStream)
  }

  decodeData(data: BodyBuffer, endStream: boolean): void {
    const ds = this.dirs[0]
    ds.remoteComplete = endStream
    if (this.#stopped(0)) return
    this.#iterateData(0, data, endStream)
  }

  decodeTrailers(trailers: HeaderList): void {
    const ds = this.dirs[0]
    ds.trailers = trailers
    ds.remoteComplete = true
    if (this.#stopped(0)) return
    this.#iterateTrailers(0)
  }

  /** The client went away. */
  downstreamReset(): void {
    if (this.ended) return
    if (this.details === '') this.details = 'downstream_remote_disconnect'
    this.#endStream(true)
  }

  // ---- From the router ----
  #encodeHeaders(headers: HeaderList, endStream: boolean): void {
    const es = this.dirs[1]
    if (this.#stopped(1)) return
    es.headers = headers
    es.remoteComplete = endStream
    this.responseCode = Number(headers.get(':status') ?? 0)
    this.#iterateHeaders(1, endStream)
  }

  #encodeData(data: BodyBuffer, endStream: boolean): void {
    const es = this.dirs[1]
    if (this.#stopped(1)) return
    es.remoteComplete = endStream
    this.#iterateData(1, data, endStream)
  }

  #encodeTrailers(trailers: HeaderList): void {
    const es = this.dirs[1]
    if (this.#stopped(1)) return
    es.trailers = trailers
    es.remoteComplete = true
    this.#iterateTrailers(1)
  }

  // ---- Iteration (Envoy's filter manager, one filter) ----
  #stopped(dir: 0 | 1): boolean {
    return this.ended || this.dirs[dir].aborted
  }

  #skipsHooks(dir: 0 | 1): boolean {
    return this.#filter === undefined || (dir === 1 && this.#sentLocalReply)
  }

  #hook<T>(fn: () => T): T {
    this.hookDepth++
    try {
      return fn()
    } finally {
      this.hookDepth--
    }
  }

  #iterateHeaders(dir: 0 | 1, endStream: boolean, start = 0): void {
    const ds = this.dirs[dir]
    if (start === 0) {
      ds.endStreamSeen = endStream
      if (this.#skipsHooks(dir)) {
        ds.headersContinued = true
      } else {
        const kind = dir === 0 ? HookKind.RequestHeaders : HookKind.ResponseHeaders
        const status = this.#hook(() => this.#filter!.headers(kind, endStream))
        if (this.#stopped(dir)) return
        if (status === H_CONTINUE) {
          ds.headersContinued = true
        } else if (status === H_STOP_ALL_BUFFER || status === H_STOP_ALL_WATERMARK) {
          ds.iteration = 'stop-all'
          return
        } else {
          ds.iteration = 'stop-single'
          return
        }
      }
    }
    this.#sinkHeaders(dir, endStream)
  }

  #bufferData(dir: 0 | 1, data: BodyBuffer): void {
    const ds = this.dirs[dir]
    ds.buffered.move(data)
    ds.hasBuffered = true
    if (ds.buffered.length <= this.#opts.bufferLimit) return
    if (dir === 0) {
      this.sendLocalReply(413, encoder.encode('Payload Too Large'), [], 'request_payload_too_large', false)
    } else if (!this.#responseStarted) {
      this.sendLocalReply(500, encoder.encode('Internal Server Error'), [], 'response_payload_too_large', false)
    } else {
      this.resetStream('response_payload_too_large')
    }
  }

  #iterateData(dir: 0 | 1, data: BodyBuffer, endStream: boolean, start = 0): void {
    const ds = this.dirs[dir]
    const isBuffered = data === ds.buffered
    if (start === 0 && !this.#skipsHooks(dir)) {
      if (ds.iteration === 'stop-all') {
        if (!isBuffered) this.#bufferData(dir, data)
        return
      }
      if (ds.endStreamSeen) return
      ds.endStreamSeen = endStream
      // At end of stream, a frame that follows buffered data joins the buffer.
      if (endStream && ds.hasBuffered && !isBuffered && ds.iteration === 'stop-single') ds.buffered.move(data)
      const previous = ds.received
      ds.received = data
      const kind = dir === 0 ? HookKind.RequestBody : HookKind.ResponseBody
      const status = this.#hook(() => this.#filter!.body(kind, endStream))
      ds.received = previous
      if (this.#stopped(dir)) return
      if (status === B_CONTINUE) {
        if (ds.iteration === 'stop-single') {
          if (!isBuffered) this.#bufferData(dir, data)
          if (this.#stopped(dir)) return
          this.#continueIteration(dir)
          return
        }
      } else {
        ds.iteration = 'stop-single'
        if (status === B_STOP_BUFFER || status === B_STOP_WATERMARK) {
          if (!isBuffered) this.#bufferData(dir, data)
        } else if (status === B_STOP_NO_BUFFER) {
          if (ds.remoteComplete && !ds.trailers && !ds.hasBuffered) ds.hasBuffered = true
        } else if (!isBuffered) {
          this.#bufferData(dir, data)
        }
        return
      }
    }
    this.#sinkData(dir, data, endStream)
  }

  #iterateTrailers(dir: 0 | 1, start = 0): void {
    const ds = this.dirs[dir]
    if (start === 0 && !this.#skipsHooks(dir)) {
      if (ds.iteration === 'stop-all') return
      const kind = dir === 0 ? HookKind.RequestTrailers : HookKind.ResponseTrailers
      const status = this.#hook(() => this.#filter!.trailers(kind))
      if (this.#stopped(dir)) return
      if (status === T_CONTINUE) {
        if (ds.iteration === 'stop-single') {
          this.#continueIteration(dir)
          return
        }
      } else {
        ds.iteration = 'stop-single'
        return
      }
    }
    this.#sinkTrailers(dir)
  }

  #continueIteration(dir: 0 | 1): void {
    if (this.#stopped(dir)) return
    const ds = this.dirs[dir]
    const fromCurrent = ds.iteration === 'stop-all'
    ds.iteration = 'continue'
    const hadTrailers = ds.trailers !== undefined
    if (!ds.headersContinued) {
      ds.headersContinued = true
      this.#iterateHeaders(dir, ds.remoteComplete && !ds.hasBuffered && !hadTrailers, 1)
      if (this.#stopped(dir)) return
    }
    if (ds.hasBuffered) {
      this.#iterateData(dir, ds.buffered, ds.remoteComplete && !hadTrailers, fromCurrent ? 0 : 1)
      if (this.#stopped(dir)) return
    }
    if (hadTrailers) this.#iterateTrailers(dir, fromCurrent ? 0 : 1)
  }

  // ---- Sinks: the router (decode) and the client (encode) ----
  #sinkHeaders(dir: 0 | 1, endStream: boolean): void {
    const ds = this.dirs[dir]
    if (dir === 0) {
      if (endStream) this.#requestDone()
      return
    }
    for (const name of HOP_BY_HOP) ds.headers!.remove(name)
    if (!ds.headers!.get('date')) ds.headers!.set('date', new Date().toUTCString())
    ds.headers!.set('server', 'envoy')
    this.#responseStarted = true
    this.responseCode = Number(ds.headers!.get(':status') ?? 0)
    this.downstream.headers = ds.headers!.clone()
    if (endStream) this.#onResponseComplete()
  }

  #sinkData(dir: 0 | 1, data: BodyBuffer, endStream: boolean): void {
    const ds = this.dirs[dir]
    if (ds.sinkComplete) return
    if (endStream) ds.sinkComplete = true
    if (dir === 0) {
      this.#requestBody.move(data)
      if (endStream) this.#requestDone()
      return
    }
    this.downstream.body.move(data)
    if (endStream) this.#onResponseComplete()
  }

  #sinkTrailers(dir: 0 | 1): void {
    const ds = this.dirs[dir]
    if (ds.sinkComplete) return
    ds.sinkComplete = true
    if (dir === 0) {
      this.#requestDone()
      return
    }
    this.downstream.trailers = ds.trailers!.clone()
    this.#onResponseComplete()
  }

  // The router has the whole request: the upstream answers, frame by frame.
  #requestDone(): void {
    if (this.upstreamRequest || this.#routerDone) return
    const ds = this.dirs[0]
    const headers = ds.headers!
    this.upstreamRequest = {
      method: headers.get(':method') ?? 'GET',
      path: headers.get(':path') ?? '/',
      headers: headers.entries.map(([k, v]) => [k, v]),
      body: this.#requestBody.bytes(),
      trailers: ds.trailers ? ds.trailers.entries.map(([k, v]) => [k, v]) : [],
    }
    const request = this.upstreamRequest
    Promise.resolve()
      .then(() => this.#opts.upstream(request))
      .then(
        (answer) => this.#opts.post(() => this.#deliverAnswer(answer)),
        (error: unknown) =>
          this.#opts.post(() => {
            const body = `upstream connect error or disconnect/reset before headers. reset reason: ${String(error)}`
            this.sendLocalReply(503, encoder.encode(body), [], 'upstream_reset_before_response_started', false)
          }),
      )
  }

  #deliverAnswer(answer: UpstreamAnswer): void {
    if (this.ended || this.#routerDone) return
    const headers = new HeaderList()
    headers.set(':status', String(answer.status))
    const pairs = answer.headers === undefined ? [] : Symbol.iterator in Object(answer.headers) ? (answer.headers as Iterable<[string, string]>) : Object.entries(answer.headers)
    for (const [k, v] of pairs) headers.add(k, v)
    const frames = answer.body === undefined ? [] : Array.isArray(answer.body) ? answer.body.map(toBytes) : [toBytes(answer.body)]
    const trailerPairs = answer.trailers === undefined ? [] : [...(Symbol.iterator in Object(answer.trailers) ? (answer.trailers as Iterable<[string, string]>) : Object.entries(answer.trailers))]
    const bodiless = frames.every((f) => f.length === 0) && trailerPairs.length === 0
    if (!headers.get('content-length') && !bodiless) headers.set('transfer-encoding', 'chunked')
    this.#encodeHeaders(headers, bodiless)
    if (bodiless) return
    for (const frame of frames) {
      if (frame.length === 0) continue
      const data = new BodyBuffer()
      data.append(frame)
      this.#encodeData(data, false)
      if (this.ended) return
    }
    if (trailerPairs.length > 0) {
      this.#encodeTrailers(HeaderList.from(trailerPairs))
    } else {
      this.#encodeData(new BodyBuffer(), true)
    }
  }

  #onResponseComplete(): void {
    this.dirs[1].sinkComplete = true
    this.downstream.complete = true
    this.#endStream(false)
  }

  // ---- Local replies and resets ----
  /** Envoy's sendLocalReply (from the filter, or Envoy's own: payload too large). */
  sendLocalReply(status: number, body: Uint8Array, extra: [string, string][], details: string, fromFilter: boolean): void {
    if (this.ended) return
    if (this.#responseStarted) {
      this.resetStream(details)
      return
    }
    this.dirs[0].aborted = true
    this.#routerDone = true
    if (fromFilter) this.#sentLocalReply = true
    this.details = details
    this.#opts.onDetails?.(details)
    const headers = new HeaderList()
    headers.set(':status', String(status))
    for (const [k, v] of extra) headers.add(k, v)
    if (body.length === 0) {
      headers.remove('content-length')
      headers.remove('content-type')
    } else {
      headers.set('content-length', String(body.length))
      if (!headers.get('content-type')) headers.set('content-type', 'text/plain')
    }
    this.responseCode = status
    const es = this.dirs[1]
    if (es.headers) {
      // Encoding had begun but nothing reached the client: answered directly, past the filter.
      es.aborted = true
      es.headers = headers
      this.#responseStarted = true
      this.downstream.headers = headers.clone()
      if (body.length > 0) this.downstream.body.append(body)
      this.#onResponseComplete()
      return
    }
    es.headers = headers
    es.remoteComplete = true
    this.#iterateHeaders(1, body.length === 0)
    if (body.length > 0 && !this.#stopped(1)) {
      const data = new BodyBuffer()
      data.append(body)
      this.#iterateData(1, data, true)
    }
  }

  resetStream(details: string): void {
    if (this.ended) return
    if (details) this.details = details
    this.#endStream(true)
  }

  #endStream(reset: boolean): void {
    if (this.ended) return
    this.ended = true
    this.dirs[0].aborted = this.dirs[1].aborted = true
    this.#routerDone = true
    if (reset) this.downstream.reset = true
    if (this.#filter) this.#hook(() => this.#filter!.complete())
    // Envoy destroys the filter from its deferred-deletion list, after every hook returned.
    this.#opts.post(() => {
      this.#destroyed = true
      this.#filter?.destroy()
      this.#finish()
    })
  }

  // ---- EnvoyCalls (the ABI's callbacks) ----
  headers(type: HeaderMapType): HeaderList | undefined {
    switch (type) {
      case HeaderMapType.Request: return this.dirs[0].headers
      case HeaderMapType.RequestTrailers: return this.dirs[0].trailers
      case HeaderMapType.Response: return this.dirs[1].headers
      case HeaderMapType.ResponseTrailers: return this.dirs[1].trailers
    }
    return undefined
  }

  body(type: BodyType): BodyBuffer | undefined {
    switch (type) {
      case BodyType.ReceivedRequest: return this.dirs[0].received
      case BodyType.BufferedRequest: return this.dirs[0].hasBuffered ? this.dirs[0].buffered : undefined
      case BodyType.ReceivedResponse: return this.dirs[1].received
      case BodyType.BufferedResponse: return this.dirs[1].hasBuffered ? this.dirs[1].buffered : undefined
    }
    return undefined
  }

  appendBody(type: BodyType, bytes: Uint8Array): boolean {
    let body = this.body(type)
    if (!body && (type === BodyType.BufferedRequest || type === BodyType.BufferedResponse)) {
      const ds = this.dirs[type === BodyType.BufferedRequest ? 0 : 1]
      ds.hasBuffered = true
      body = ds.buffered
    }
    if (!body) return false
    body.append(bytes)
    return true
  }

  drainBody(type: BodyType, n: number): boolean {
    const body = this.body(type)
    if (!body) return false
    body.drain(n)
    return true
  }

  receivedIsBuffered(direction: Direction): boolean {
    const ds = this.dirs[direction === Direction.Request ? 0 : 1]
    return ds.received !== undefined && ds.received === ds.buffered
  }

  sendResponse(status: number, headers: [string, string][], body: Uint8Array, details: string): void {
    this.sendLocalReply(status, body, headers, details || 'dynamic_module', true)
  }

  continueDecoding(): void {
    if (this.ended || this.dirs[0].iteration === 'continue') return
    this.#continueIteration(0)
  }

  continueEncoding(): void {
    if (this.ended || this.dirs[1].iteration === 'continue') return
    this.#continueIteration(1)
  }

  schedulerCommit(event: SchedulerEvent): void {
    if (this.#destroyed) return
    this.#opts.post(() => {
      if (this.#destroyed) return
      this.#hook(() => this.#filter?.scheduled(event))
    })
  }
}

// ---- The module side (libnodevoy's Stream) ------------------------------------------------------

type Phase = 'idle' | 'in-hook' | 'pending' | 'stopped' | 'done'
const enum Outcome {
  Go,
  Hold,
  Answered,
}

interface ModuleDirection {
  phase: Phase
  hook: number
  onStack: boolean
  owesContinue: boolean
  continueEarly: boolean
  settled: boolean
  action: number
  endSeen: boolean
  headersPassed: boolean
  bodyMode: BodyMode
  bodyEndDelivered: boolean
  bodyPassed: boolean
  bodyEndByFrame: boolean
  bodyHookSawEnd: boolean
  bufferedSeen: number
  inBodyHook: boolean
  chunkValid: boolean
  trailersSeen: boolean
  trailersDelivered: boolean
}

function moduleDirection(): ModuleDirection {
  return {
    phase: 'idle',
    hook: 0,
    onStack: false,
    owesContinue: false,
    continueEarly: false,
    settled: false,
    action: 0,
    endSeen: false,
    headersPassed: false,
    bodyMode: BodyMode.None,
    bodyEndDelivered: false,
    bodyPassed: false,
    bodyEndByFrame: false,
    bodyHookSawEnd: false,
    bufferedSeen: 0,
    inBodyHook: false,
    chunkValid: false,
    trailersSeen: false,
    trailersDelivered: false,
  }
}

const isHeld = (phase: Phase) => phase === 'pending' || phase === 'stopped'
const directionOf = (kind: number): Direction =>
  kind === HookKind.RequestHeaders || kind === HookKind.RequestBody || kind === HookKind.RequestTrailers || kind === HookKind.RequestBodyEnd
    ? Direction.Request
    : kind === HookKind.StreamComplete || kind === HookKind.Callout
      ? Direction.None
      : Direction.Response
const bodyHook = (d: Direction) => (d === Direction.Request ? HookKind.RequestBody : HookKind.ResponseBody)
const trailersHook = (d: Direction) => (d === Direction.Request ? HookKind.RequestTrailers : HookKind.ResponseTrailers)
const receivedType = (d: Direction) => (d === Direction.Request ? BodyType.ReceivedRequest : BodyType.ReceivedResponse)
const bufferedType = (d: Direction) => (d === Direction.Request ? BodyType.BufferedRequest : BodyType.BufferedResponse)
const directionName = (d: Direction) => (d === Direction.Request ? 'request' : 'response')

export interface ModuleStreamOptions {
  token: number
  id: number
  /** The filter config's id (metric updates name it). */
  configId: number
  /** The filter's hook mask (bit 1 << kind). */
  hooks: number
  dispatch: (kind: HookKind, token: number, endOfStream: boolean) => Action
  failOpen: boolean
  /** A hook failed (nodevoy_filter_errors). */
  countError: () => void
  /** The stream is gone for JS (its liveness slot cleared). */
  onGone: () => void
  log: (level: number, message: string) => void
}

export class ModuleStream implements FilterHooksAbi {
  readonly token: number
  readonly id: number
  readonly configId: number
  readonly request = moduleDirection()
  readonly response = moduleDirection()
  alive = true
  replied = false
  isComplete = false
  crossings = 0
  bytesCopied = 0
  #notifyComplete = false
  #resumePosted = false
  readonly #envoy: EnvoyCalls
  readonly #opts: ModuleStreamOptions

  constructor(envoy: EnvoyCalls, options: ModuleStreamOptions) {
    this.#envoy = envoy
    this.#opts = options
    this.token = options.token
    this.id = options.id
    this.configId = options.configId
  }

  state(direction: Direction): ModuleDirection {
    return direction === Direction.Request ? this.request : this.response
  }

  notifyComplete(): void {
    this.#notifyComplete = true
  }

  markReplied(): void {
    this.replied = true
  }

  #implements(kind: number): boolean {
    return (this.#opts.hooks & (1 << kind)) !== 0
  }

  #wantsBodyFrames(direction: Direction): boolean {
    return this.#implements(bodyHook(direction)) || this.state(direction).bodyMode === BodyMode.Stream
  }

  // ---- Running hooks ----
  #runHook(kind: number, endOfStream: boolean): number {
    const direction = directionOf(kind)
    const d = direction === Direction.None ? undefined : this.state(direction)
    if (d) {
      d.phase = 'in-hook'
      d.hook = kind
      d.onStack = true
    }
    const action = this.#opts.dispatch(kind as HookKind, this.token, endOfStream)
    if (!d || !this.alive) {
      if (d) d.onStack = false
      return action
    }
    if (action === Action.Pending) d.phase = 'pending'
    d.onStack = false
    return action
  }

  #resolve(direction: Direction, action: number): Outcome {
    const d = this.state(direction)
    if (this.replied || !this.alive) {
      d.phase = 'done'
      return Outcome.Answered
    }
    switch (action) {
      case Action.Continue:
        this.#goOn(d)
        return Outcome.Go
      case Action.Stop:
        if (d.continueEarly) {
          this.#goOn(d)
          return Outcome.Go
        }
        d.phase = 'stopped'
        this.#hold(d, d.hook)
        return Outcome.Hold
      case Action.Pending:
        d.phase = 'pending'
        this.#hold(d, d.hook)
        return Outcome.Hold
      default:
        if (this.#fail(direction)) {
          d.phase = 'done'
          return Outcome.Answered
        }
        this.#goOn(d)
        return Outcome.Go
    }
  }

  #hold(d: ModuleDirection, kind: number): void {
    d.hook = kind
    d.owesContinue = true
  }

  #goOn(d: ModuleDirection): void {
    d.phase = 'idle'
    d.hook = 0
    d.continueEarly = false
    d.headersPassed = true
  }

  #fail(direction: Direction): boolean {
    if (!this.alive) return true
    this.#opts.countError()
    if (this.replied) return true
    if (this.#opts.failOpen) return false
    this.replied = true
    if (direction === Direction.Response && this.response.headersPassed) {
      this.#envoy.resetStream('nodevoy_filter_error')
      return true
    }
    this.#envoy.sendResponse(500, [], new Uint8Array(0), 'nodevoy_filter_error')
    return true
  }

  /** An unexpected failure of the kit itself inside a hook: answered like a failed JS hook. */
  failUnexpectedly(direction: Direction): boolean {
    return this.#fail(direction)
  }

  // ---- Envoy's hooks ----
  headers(kind: HookKind.RequestHeaders | HookKind.ResponseHeaders, endOfStream: boolean): number {
    const direction = directionOf(kind)
    const d = this.state(direction)
    if (endOfStream) d.endSeen = true
    if (!this.#implements(kind)) {
      d.headersPassed = true
      return H_CONTINUE
    }
    const action = this.#runHook(kind, endOfStream)
    return this.#resolve(direction, action) === Outcome.Go ? H_CONTINUE : H_STOP
  }

  body(kind: HookKind.RequestBody | HookKind.ResponseBody, endOfStream: boolean): number {
    const direction = directionOf(kind)
    const d = this.state(direction)
    if (endOfStream) {
      d.endSeen = true
      d.bodyEndByFrame = true
    }
    const buffering = d.bodyMode === BodyMode.Buffer
    const held = buffering ? B_STOP_BUFFER : B_STOP_WATERMARK
    const bodyEndDue = buffering && endOfStream && !d.bodyEndDelivered
    if (isHeld(d.phase)) {
      if (bodyEndDue) {
        d.inBodyHook = true
        try {
          this.#deliverBodyEnd(direction)
        } finally {
          d.inBodyHook = false
        }
      }
      return this.replied ? B_STOP_NO_BUFFER : held
    }
    if (d.phase === 'done' || this.replied) return B_STOP_NO_BUFFER
    if (buffering && !endOfStream) return B_STOP_BUFFER
    if (!bodyEndDue && !this.#wantsBodyFrames(direction)) {
      d.bodyPassed = true
      d.bufferedSeen = 0
      return B_CONTINUE
    }
    d.inBodyHook = true
    try {
      if (bodyEndDue) {
        this.#deliverBodyEnd(direction)
        if (this.replied || !this.alive) return B_STOP_NO_BUFFER
        // The read's continuation cannot run before we answer Envoy here: hold, continue when it has.
        d.phase = 'pending'
        d.hook = kind
        d.settled = true
        d.action = Action.Continue
        this.#hold(d, kind)
        this.#postResume()
        return B_STOP_BUFFER
      }
      let action: number
      d.chunkValid = true
      try {
        action = this.#runHook(bodyHook(direction), endOfStream)
      } finally {
        d.chunkValid = false
      }
      if (endOfStream) d.bodyHookSawEnd = true
      switch (this.#resolve(direction, action)) {
        case Outcome.Go:
          d.bodyPassed = true
          d.bufferedSeen = 0
          return B_CONTINUE
        case Outcome.Hold:
          d.bufferedSeen = this.#bufferedSize(direction) + (this.#envoy.receivedIsBuffered(direction) ? 0 : this.#receivedSize(direction))
          return d.bodyMode === BodyMode.Buffer ? B_STOP_BUFFER : B_STOP_WATERMARK
        default:
          return B_STOP_NO_BUFFER
      }
    } finally {
      d.inBodyHook = false
    }
  }

  trailers(kind: HookKind.RequestTrailers | HookKind.ResponseTrailers): number {
    const direction = directionOf(kind)
    const d = this.state(direction)
    d.endSeen = true
    d.trailersSeen = true
    const bodyEndDue = d.bodyMode === BodyMode.Buffer && !d.bodyEndDelivered
    if (!bodyEndDue && !this.#implements(kind) && !this.#wantsBodyFrames(direction)) {
      if (isHeld(d.phase) || d.phase === 'done' || this.replied) return T_STOP
      return T_CONTINUE
    }
    if (bodyEndDue) this.#deliverBodyEnd(direction)
    if (isHeld(d.phase) || d.phase === 'done' || this.replied || !this.alive) return T_STOP
    return this.#catchUp(direction) === Outcome.Go ? T_CONTINUE : T_STOP
  }

  #catchUp(direction: Direction): Outcome {
    const d = this.state(direction)
    if (this.#wantsBodyFrames(direction)) {
      const unseen = this.#bufferedSize(direction) > d.bufferedSeen
      const endUntold = d.bodyEndByFrame && !d.bodyHookSawEnd
      if (unseen || endUntold) {
        const endOfStream = d.bodyEndByFrame
        let action: number
        d.chunkValid = true
        try {
          action = this.#runHook(bodyHook(direction), endOfStream)
        } finally {
          d.chunkValid = false
        }
        if (endOfStream) d.bodyHookSawEnd = true
        d.bufferedSeen = this.#bufferedSize(direction)
        const outcome = this.#resolve(direction, action)
        if (outcome !== Outcome.Go) return outcome
      }
    }
    const trailers = trailersHook(direction)
    if (d.trailersSeen && !d.trailersDelivered && this.#implements(trailers)) {
      d.trailersDelivered = true
      const outcome = this.#resolve(direction, this.#runHook(trailers, true))
      if (outcome !== Outcome.Go) return outcome
    }
    return Outcome.Go
  }

  #deliverBodyEnd(direction: Direction): void {
    const d = this.state(direction)
    if (d.bodyEndDelivered) return
    d.bodyEndDelivered = true
    this.#opts.dispatch(direction === Direction.Request ? HookKind.RequestBodyEnd : HookKind.ResponseBodyEnd, this.token, true)
  }

  complete(): void {
    const run = this.#implements(HookKind.StreamComplete) || this.#notifyComplete
    for (const direction of [Direction.Request, Direction.Response]) {
      const d = this.state(direction)
      if (d.bodyMode === BodyMode.Buffer && !d.bodyEndDelivered && !this.replied) {
        this.#opts.log(3, `nodevoy: stream ${this.id}: the ${directionName(direction)} body read did not complete: the stream ended first`)
      }
    }
    this.isComplete = true
    if (run) this.#runHook(HookKind.StreamComplete, true)
    this.request.phase = this.response.phase = 'done'
  }

  destroy(): void {
    this.alive = false
    this.#opts.onGone()
  }

  scheduled(event: SchedulerEvent): void {
    if (event === SchedulerEvent.Resume) this.#resumePosted = false
    if (!this.alive) return
    this.#applyMailbox(Direction.Request)
    if (this.alive) this.#applyMailbox(Direction.Response)
  }

  #applyMailbox(direction: Direction): void {
    const d = this.state(direction)
    if (!d.settled || d.onStack) return
    d.settled = false
    if (!isHeld(d.phase)) return
    if (this.#resolve(direction, d.action) !== Outcome.Go) return
    if (this.#catchUp(direction) !== Outcome.Go || !d.owesContinue || !this.alive) return
    d.owesContinue = false
    if (this.#bufferedSize(direction) > 0) d.bodyPassed = true
    d.bufferedSeen = 0
    if (direction === Direction.Request) this.#envoy.continueDecoding()
    else this.#envoy.continueEncoding()
  }

  // ---- From JS (the binding) ----
  settle(direction: Direction, action: number): void {
    if (direction === Direction.None) return
    const d = this.state(direction)
    if (d.phase !== 'pending') return
    d.settled = true
    d.action = action
    if (!d.onStack) this.#postResume()
  }

  continueDirection(direction: Direction): void {
    if (direction === Direction.None) return
    const d = this.state(direction)
    if (d.phase === 'stopped') {
      d.settled = true
      d.action = Action.Continue
      this.#postResume()
    } else if (d.phase === 'in-hook' || d.phase === 'pending') {
      d.continueEarly = true
    }
  }

  /** The settle timer of a held hook fired: answered with `status`. */
  timeOut(direction: Direction, status: number): boolean {
    const d = this.state(direction)
    if (!this.alive || !isHeld(d.phase) || this.replied || this.isComplete) return false
    d.phase = 'done'
    this.replied = true
    if (direction === Direction.Response && this.response.headersPassed) {
      this.#envoy.resetStream('nodevoy_hook_timeout')
    } else {
      this.#envoy.sendResponse(status, [], new Uint8Array(0), 'nodevoy_hook_timeout')
    }
    return true
  }

  #postResume(): void {
    if (this.#resumePosted) return
    this.#resumePosted = true
    this.#envoy.schedulerCommit(SchedulerEvent.Resume)
  }

  // ---- Bodies ----
  #bufferedSize(direction: Direction): number {
    return this.alive ? (this.#envoy.body(bufferedType(direction))?.length ?? 0) : 0
  }

  #receivedSize(direction: Direction): number {
    return this.alive && this.state(direction).inBodyHook ? (this.#envoy.body(receivedType(direction))?.length ?? 0) : 0
  }

  #copyBody(type: BodyType, from: number, out: Uint8Array[]): void {
    const body = this.#envoy.body(type)
    if (!body) return
    for (const chunk of body.slices) {
      if (from >= chunk.length) {
        from -= chunk.length
        continue
      }
      out.push(chunk.slice(from))
      from = 0
    }
  }

  setBodyMode(direction: Direction, mode: BodyMode): BodyReadState {
    const d = this.state(direction)
    if (mode === BodyMode.None) {
      if (d.bodyMode === BodyMode.Stream) d.bodyMode = BodyMode.None
      return BodyReadState.Later
    }
    if (mode === BodyMode.Buffer) {
      if (d.bodyPassed) return BodyReadState.TooLate
      d.bodyMode = BodyMode.Buffer
      if (d.endSeen) {
        d.bodyEndDelivered = true
        return BodyReadState.Complete
      }
      return BodyReadState.Later
    }
    if (d.bodyMode === BodyMode.None) d.bodyMode = BodyMode.Stream
    return d.endSeen && d.bodyPassed ? BodyReadState.Complete : BodyReadState.Later
  }

  /** The bytes of `part`, or a string saying why they cannot be read now. */
  readBody(direction: Direction, part: BodyPart): Uint8Array | string {
    const d = this.state(direction)
    const withReceived = d.inBodyHook && !this.#envoy.receivedIsBuffered(direction)
    const out: Uint8Array[] = []
    if (part === BodyPart.Chunk) {
      if (!d.chunkValid) {
        return "a body chunk can be read only during its hook's synchronous part (before its first await): copy it with chunk.bytes() there"
      }
      this.#copyBody(bufferedType(direction), d.bufferedSeen, out)
    } else {
      if (d.bodyPassed) {
        return `the ${directionName(direction)} body already went on to later filters; read it whole from a hook that holds it (await it in on${direction === Direction.Request ? 'RequestHeaders' : 'ResponseHeaders'})`
      }
      this.#copyBody(bufferedType(direction), 0, out)
    }
    if (withReceived) this.#copyBody(receivedType(direction), 0, out)
    const total = out.reduce((n, c) => n + c.length, 0)
    const bytes = new Uint8Array(total)
    let offset = 0
    for (const c of out) {
      bytes.set(c, offset)
      offset += c.length
    }
    this.bytesCopied += total
    return bytes
  }

  #fixContentLength(direction: Direction, oldTotal: number, newTotal: number): string {
    if (oldTotal === newTotal) return ''
    const d = this.state(direction)
    const headers = this.#envoy.headers(direction === Direction.Request ? HeaderMapType.Request : HeaderMapType.Response)
    const current = headers?.get('content-length')
    if (current === undefined) return ''
    if (d.headersPassed) {
      return `the ${directionName(direction)} headers already went on with content-length ${current}, so the body's length cannot change now: hold the headers (await the body in on${direction === Direction.Request ? 'RequestHeaders' : 'ResponseHeaders'}), or remove content-length there to stream a body of another length`
    }
    headers!.set('content-length', String(newTotal))
    return ''
  }

  /** Rewrites `part`; a string saying why not when it cannot. */
  writeBody(direction: Direction, part: BodyPart, write: BodyWrite, data: Uint8Array): string {
    const d = this.state(direction)
    const buffered = bufferedType(direction)
    const received = receivedType(direction)
    const withReceived = d.inBodyHook && !this.#envoy.receivedIsBuffered(direction)
    const bufferedSize = this.#bufferedSize(direction)
    const receivedSize = withReceived ? this.#receivedSize(direction) : 0
    const oldTotal = bufferedSize + receivedSize
    let partSize: number
    if (part === BodyPart.Chunk) {
      if (!d.chunkValid) return "a body chunk can be changed only during its hook's synchronous part (before its first await)"
      partSize = bufferedSize - d.bufferedSeen + receivedSize
    } else {
      if (d.bodyPassed || !d.endSeen) {
        return `the whole ${directionName(direction)} body is not held now: read it first (await body.bytes()) from a hook that holds the direction`
      }
      partSize = oldTotal
    }
    const newTotal = write === BodyWrite.Replace ? oldTotal - partSize + data.length : oldTotal + data.length
    const why = this.#fixContentLength(direction, oldTotal, newTotal)
    if (why) return why
    const keepFront = part === BodyPart.Chunk ? d.bufferedSeen : 0
    if (write === BodyWrite.Append) {
      this.#envoy.appendBody(withReceived ? received : buffered, data)
      return ''
    }
    if (write === BodyWrite.Replace && keepFront === bufferedSize && withReceived) {
      this.#envoy.drainBody(received, receivedSize)
      this.#envoy.appendBody(received, data)
      return ''
    }
    const all: Uint8Array[] = []
    this.#copyBody(buffered, 0, all)
    const whole = concat(all)
    const front = whole.subarray(0, keepFront)
    let rest = whole.subarray(keepFront)
    this.#envoy.drainBody(buffered, bufferedSize)
    if (write === BodyWrite.Replace) {
      if (withReceived) this.#envoy.drainBody(received, receivedSize)
      rest = new Uint8Array(0)
    }
    this.#envoy.appendBody(buffered, concat([front, data, rest]))
    return ''
  }
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}
