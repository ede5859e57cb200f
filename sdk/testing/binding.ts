// The testing kit's NativeBinding: what libnodevoy's binding does (host/module/binding/*.cc), against
// the kit's model of Envoy (model.ts) instead of Envoy: the same checks in the same order, the same
// error codes, so a filter's real dispatcher code runs here as it runs in the proxy.
import { CalloutError, NodevoyError, StreamGoneError } from '../errors.js'
import type { NativeBinding, RuntimeHooks, StreamToken } from '../internal/binding.js'
import type { Clock } from '../internal/clock.js'
import {
  Action,
  BodyMode,
  BodyPart,
  BodyReadState,
  BodyWrite,
  CalloutEventType,
  Direction,
  HeaderMapSeparator,
  HeaderMapType,
  LogLevelValue,
  MetricKind,
  MetricOp,
  MetricUpdate,
  SLOTS,
} from '../internal/contract.js'
import { checkHeaderName, checkHeaderValue, firstNonByte, notByteMessage, quoteForMessage, type HeaderTarget, type HeaderWrite } from './header-rules.js'
import type { FakeMetrics, FakeSharedStore } from './fakes.js'
import { concat, toBytes, type EnvoyStream, type ModuleStream, type UpstreamAnswer } from './model.js'

/** A fake cluster: answers a callout's request. 'unreachable' is Envoy's 503; 'reset' a reset. */
export type ClusterHandler = (request: ClusterRequest) => UpstreamAnswer | 'unreachable' | 'reset' | Promise<UpstreamAnswer | 'unreachable' | 'reset'>

/** A callout's request as the fake cluster receives it. */
export interface ClusterRequest {
  /** `:method`. */
  method: string
  /** `:path`, with the query. */
  path: string
  /** `:authority` (the host). */
  authority: string
  /** The other headers, names lower-cased. */
  headers: [string, string][]
  /** The whole request body. */
  body: Uint8Array
  /** Request trailers (streamed callouts). */
  trailers: [string, string][]
}

/** What the binding knows of one stream. */
export interface StreamEntry {
  module: ModuleStream
  envoy: EnvoyStream
  workerIndex: number
  routeConfig?: [number, string]
  routeMetadata: Record<string, Record<string, string | number | boolean>>
  dynamicMetadata: Map<string, Map<string, string | number | boolean>>
  filterState: Map<string, Uint8Array>
  attributes: { sourceAddress: string; sourcePort: number; destinationAddress: string; destinationPort: number; connectionId: number }
  callouts: KitCallouts
  /** Runs a callback later on the stream's "worker". */
  post: (fn: () => void) => void
  /** Announces queued callout events to the SDK (the ABI's callout hooks). */
  announceCallouts: () => void
  routeCacheCleared: number
}

interface KitCallout {
  id: number
  streamed: boolean
  cluster: ClusterHandler
  request: ClusterRequest
  body: Uint8Array[]
  ended: boolean
  timer: unknown
  done: boolean
}

export class KitCallouts {
  nextId = 1
  live = new Map<number, KitCallout>()
  events: unknown[] = []
}

function coded(name: string, code: string, message: string): Error {
  const error = new Error(message) as Error & { code: string }
  error.name = name
  error.code = code
  return error
}

const invalidArgument = (message: string) => new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', message)
const invalidState = (message: string) => new NodevoyError('NODEVOY_ERR_INVALID_STATE', message)

// A header map as getHeaders returns it (contract.HeaderMapSeparator).
function headerMapString(pairs: [string, string][]): string {
  const entry = String.fromCharCode(HeaderMapSeparator.Entry)
  const value = String.fromCharCode(HeaderMapSeparator.Value)
  return pairs.map(([k, v]) => `${entry}${k}${value}${v}`).join('')
}

// Callout headers and trailers as their events carry them: "name\0value\0name\0value".
function calloutHeaderString(pairs: [string, string][]): string {
  return pairs.map(([k, v]) => `${k}\0${v}`).join('\0')
}

export interface KitBindingOptions {
  workerIndex: number
  clock: Clock
  shared: FakeSharedStore
  metricsOf: (configId: number) => { metrics: FakeMetrics; name: string } | undefined
  clusters: Record<string, ClusterHandler>
  timeoutStatus: number
  log: (level: number, message: string) => void
  logLevel: number
}

/** The kit's binding for one environment (one "worker"). */
export class KitBinding implements NativeBinding {
  readonly liveness = new Uint32Array(SLOTS)
  readonly clock: Clock
  readonly #streams = new Map<number, StreamEntry>()
  readonly #opts: KitBindingOptions
  #nextSlot = 1
  #generation = 1

  constructor(options: KitBindingOptions) {
    this.#opts = options
    this.clock = options.clock
  }

  // ---- Streams: registration by the kit ----
  /** A new stream's token (its liveness slot marked live). */
  allocate(): number {
    const slot = this.#nextSlot++ % SLOTS || this.#nextSlot++
    const generation = this.#generation++
    this.liveness[slot] = generation
    return generation * SLOTS + slot
  }

  register(token: number, entry: StreamEntry): void {
    this.#streams.set(token, entry)
  }

  /** The stream is gone for JS: calls on its token throw StreamGoneError. */
  release(token: number): void {
    const slot = token % SLOTS
    if (this.liveness[slot] === Math.floor(token / SLOTS)) this.liveness[slot] = 0
    this.#streams.delete(token)
  }

  #entry(token: StreamToken, operation: string, count = true): StreamEntry {
    if (typeof token !== 'number') throw invalidArgument(`${operation}: missing stream token`)
    const entry = this.#streams.get(token)
    if (!entry || !entry.module.alive) {
      throw new StreamGoneError(`${operation}: the stream is gone (its request has completed); values already read stay valid`)
    }
    if (count) entry.module.crossings++
    return entry
  }

  #writable(token: StreamToken, operation: string): StreamEntry {
    const entry = this.#entry(token, operation)
    if (entry.module.isComplete) {
      throw coded(
        'NodevoyError',
        'NODEVOY_ERR_STREAM_COMPLETE',
        `${operation}: the stream is complete (its response was sent or it was reset): headers can be read, but not changed, and no reply can be sent`,
      )
    }
    return entry
  }

  // ---- Process ----
  setup(_runtime: RuntimeHooks): void {}

  log(level: number, message: string): void {
    if (level >= this.#opts.logLevel) this.#opts.log(Math.min(level, LogLevelValue.Critical), String(message))
  }

  logEnabled(level: number): boolean {
    return level >= this.#opts.logLevel
  }

  uncaught(message: string): void {
    this.#opts.log(LogLevelValue.Error, String(message))
  }

  workerIndex(): number {
    return this.#opts.workerIndex
  }

  withLoadBudget<T>(load: () => T): T {
    return load()  // the testing kit has no CPU budget
  }

  // ---- Headers ----
  #bytes(value: unknown, context: string, what: string): string {
    if (typeof value !== 'string') throw invalidArgument(`${context}: the header ${what} must be a string, got ${typeof value}`)
    const bad = firstNonByte(value)
    if (bad >= 0) throw invalidArgument(`${context}: invalid header ${what}: ${notByteMessage(value, bad)}`)
    return value
  }

  /** libnodevoy's checkedHeader: the name lower-cased, both checked for the target. */
  checkedHeader(nameValue: unknown, value: unknown | null, operation: string, target: HeaderTarget, write: HeaderWrite): [string, string] {
    const raw = this.#bytes(nameValue, operation, 'name')
    const name = raw.toLowerCase()
    const context = `${operation}(${quoteForMessage(raw)})`
    let problem = checkHeaderName(name, target, write)
    if (problem) throw invalidArgument(`${context}: invalid header name: ${problem}`)
    if (value === null) return [name, '']
    const text = this.#bytes(value, context, 'value')
    problem = checkHeaderValue(name, text, target, write)
    if (problem) throw invalidArgument(`${context}: invalid value ${quoteForMessage(text)}: ${problem}`)
    return [name, text]
  }

  getHeaders(token: StreamToken, type: HeaderMapType): string {
    const entry = this.#entry(token, 'headers')
    const map = entry.envoy.headers(type)
    if (!map || map.entries.length === 0) return ''
    const text = headerMapString(map.entries)
    entry.module.bytesCopied += text.length
    return text
  }

  setHeader(token: StreamToken, type: HeaderMapType, name: string, value: string | null): boolean {
    const removing = value === null || value === undefined
    const operation = removing ? 'headers.remove' : 'headers.set'
    const entry = this.#writable(token, operation)
    const [key, text] = this.checkedHeader(name, removing ? null : value, operation, TARGETS[type]!, removing ? 'remove' : 'set')
    const map = entry.envoy.headers(type)
    if (!map) return false
    if (removing) map.remove(key)
    else map.set(key, text)
    return true
  }

  addHeader(token: StreamToken, type: HeaderMapType, name: string, value: string): boolean {
    const entry = this.#writable(token, 'headers.add')
    const [key, text] = this.checkedHeader(name, value, 'headers.add', TARGETS[type]!, 'add')
    const map = entry.envoy.headers(type)
    if (!map) return false
    map.add(key, text)
    return true
  }

  // ---- Control ----
  sendLocalReply(token: StreamToken, status: number, body: string | Uint8Array | null, headers: string[], details: string): void {
    const entry = this.#writable(token, 'sendLocalReply')
    if (entry.module.replied) throw coded('NodevoyError', 'NODEVOY_ERR_ALREADY_REPLIED', 'sendLocalReply: this stream was already answered')
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) {
      throw invalidArgument('sendLocalReply: status must be an integer 200..599')
    }
    let bytes: Uint8Array
    if (typeof body === 'string') bytes = toBytes(body)
    else if (body instanceof Uint8Array) bytes = body
    else if (body === null || body === undefined) bytes = new Uint8Array(0)
    else throw invalidArgument(`sendLocalReply: the body must be a string or bytes (Uint8Array), got ${typeof body}`)
    const pairs: [string, string][] = []
    for (let i = 0; i + 1 < headers.length; i += 2) pairs.push(this.checkedHeader(headers[i], headers[i + 1], 'sendLocalReply', 'local reply', 'add'))
    if (typeof details !== 'string' || details.length === 0 || details.length > 256) throw invalidArgument('sendLocalReply: details must be 1..256 characters')
    for (let i = 0; i < details.length; i++) {
      const c = details.charCodeAt(i)
      if (c <= 0x20 || c >= 0x7f) {
        throw invalidArgument(
          `sendLocalReply: details ${quoteForMessage(details)} must be visible ASCII without spaces (it is Envoy's response code details, e.g. my_filter_denied)`,
        )
      }
    }
    entry.module.markReplied()
    entry.envoy.sendResponse(status, pairs, bytes, details)
  }

  resume(token: StreamToken, direction: Direction, action: Action): void {
    const entry = this.#streams.get(token)
    if (!entry || !entry.module.alive) return
    entry.module.settle(direction, action)
  }

  continueStream(token: StreamToken, direction: Direction): void {
    const entry = this.#writable(token, 'continue')
    if (direction !== Direction.Request && direction !== Direction.Response) throw invalidArgument('continue: bad direction')
    entry.module.continueDirection(direction)
  }

  streamInfo(token: StreamToken): [number, number] {
    const entry = this.#entry(token, 'streamInfo')
    return [entry.module.id, entry.workerIndex]
  }

  counters(token: StreamToken): [number, number] {
    const entry = this.#entry(token, 'dataPathStats', false)
    return [entry.module.crossings, entry.module.bytesCopied]
  }

  notifyComplete(token: StreamToken): void {
    this.#entry(token, 'notifyComplete', false).module.notifyComplete()
  }

  timeoutStream(token: StreamToken, direction: Direction): boolean {
    const entry = this.#streams.get(token)
    if (!entry || !entry.module.alive) return false
    return entry.module.timeOut(direction, this.#opts.timeoutStatus)
  }

  // ---- Bodies ----
  bodyMode(token: StreamToken, direction: Direction, mode: BodyMode): BodyReadState {
    return this.#entry(token, 'body').module.setBodyMode(direction, mode)
  }

  readBody(token: StreamToken, direction: Direction, part: BodyPart): Uint8Array {
    const out = this.#entry(token, 'body.read').module.readBody(direction, part)
    if (typeof out === 'string') throw invalidState(`body.read: ${out}`)
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength)
  }

  writeBody(token: StreamToken, direction: Direction, part: BodyPart, write: BodyWrite, data: string | Uint8Array): void {
    const entry = this.#writable(token, 'body.write')
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
      throw invalidArgument(`body.write: the data must be a string or bytes (Uint8Array), got ${typeof data}`)
    }
    const why = entry.module.writeBody(direction, part, write, toBytes(data))
    if (why) throw invalidState(`body.write: ${why}`)
  }

  // ---- Stream info ----
  attribute(token: StreamToken, id: number, type: 0 | 1 | 2): string | number | boolean | undefined {
    const entry = this.#entry(token, 'info')
    const request = entry.envoy.headers(HeaderMapType.Request)
    const a = entry.attributes
    const path = request?.get(':path')
    if (type === 0) {
      switch (id) {
        case 0: return path
        case 1: return path === undefined ? undefined : path.split('?')[0]
        case 2: return request?.get(':authority')
        case 3: return request?.get(':scheme')
        case 4: return request?.get(':method')
        case 6: return request?.get('referer')
        case 7: return request?.get('user-agent')
        case 9: return request?.get('x-request-id')
        case 10: return 'HTTP/1.1'
        case 11: return path !== undefined && path.includes('?') ? path.slice(path.indexOf('?') + 1).split('#')[0] : undefined
        case 16: return entry.envoy.details || undefined
        case 24: return `${a.sourceAddress}:${a.sourcePort}`
        case 26: return `${a.destinationAddress}:${a.destinationPort}`
        default: return undefined
      }
    }
    if (type === 1) {
      switch (id) {
        case 15: return entry.envoy.responseCode || undefined
        case 25: return a.sourcePort
        case 27: return a.destinationPort
        case 28: return a.connectionId
        default: return undefined
      }
    }
    return id === 29 ? false : undefined
  }

  getMetadata(token: StreamToken, source: number, namespace: string, key: string): string | number | boolean | undefined {
    const entry = this.#entry(token, 'metadata.get')
    if (typeof namespace !== 'string' || typeof key !== 'string') throw invalidArgument('metadata.get: the namespace and key must be strings')
    if (source === 0) return entry.dynamicMetadata.get(namespace)?.get(key)
    if (source === 1) return entry.routeMetadata[namespace]?.[key]
    return undefined
  }

  setMetadata(token: StreamToken, namespace: string, key: string, value: string | number | boolean): void {
    const entry = this.#writable(token, 'metadata.set')
    if (typeof namespace !== 'string' || typeof key !== 'string') throw invalidArgument('metadata.set: the namespace and key must be strings')
    if (!['string', 'number', 'boolean'].includes(typeof value)) {
      throw invalidArgument(`metadata.set: the value must be a string, a number or a boolean, got ${typeof value}`)
    }
    if (!entry.dynamicMetadata.has(namespace)) entry.dynamicMetadata.set(namespace, new Map())
    entry.dynamicMetadata.get(namespace)!.set(key, value)
  }

  getFilterState(token: StreamToken, key: string): Uint8Array | undefined {
    const value = this.#entry(token, 'filterState.get').filterState.get(String(key))
    return value === undefined ? undefined : Buffer.from(value)
  }

  setFilterState(token: StreamToken, key: string, value: string | Uint8Array): boolean {
    const entry = this.#writable(token, 'filterState.set')
    if (entry.filterState.has(String(key))) return false  // Envoy keeps it read-only once set
    entry.filterState.set(String(key), toBytes(value))
    return true
  }

  clearRouteCache(token: StreamToken): void {
    this.#entry(token, 'clearRouteCache').routeCacheCleared++
  }

  // ---- Metrics ----
  declareMetrics(configId: number, declarations: [string, MetricKind, string[], number][]): void {
    const target = this.#opts.metricsOf(configId)
    if (!target) throw invalidState('declareMetrics: the filter config is gone')
    const rows = declarations.map(([name, kind, labels, maxSeries]) => ({ name, kind, labels, maxSeries }))
    if (target.metrics.declared.length === 0) {
      target.metrics.declared = rows
      return
    }
    if (JSON.stringify(target.metrics.declared) !== JSON.stringify(rows)) {
      throw invalidState('the bundle declares other metrics than its config defined')
    }
  }

  #metricUpdate(configId: number, metric: number, op: MetricOp, labels: string[], value: number): void {
    const target = this.#opts.metricsOf(configId)
    if (!target) return
    const declared = target.metrics.declared[metric]
    if (!declared) throw invalidArgument('metric update: no such metric')
    if (labels.length !== declared.labels.length) {
      throw invalidArgument(`metric '${declared.name}': expected ${declared.labels.length} label values, got ${labels.length}`)
    }
    const fits = declared.kind === MetricKind.Counter ? op === MetricOp.Add : declared.kind === MetricKind.Histogram ? op === MetricOp.Record : op !== MetricOp.Record
    if (!fits) throw invalidArgument(`metric '${declared.name}': that operation does not apply to its kind`)
    if (!Number.isFinite(value) || value < 0) throw invalidArgument(`metric '${declared.name}': the value must be a non-negative number`)
    target.metrics.update(metric, op, labels, Math.round(value), target.name)
  }

  streamMetric(token: StreamToken, metric: number, op: MetricOp, labels: string[], value: number): MetricUpdate {
    const entry = this.#entry(token, 'metric')
    this.#metricUpdate(entry.module.configId, metric, op, labels, value)
    return MetricUpdate.Done
  }

  configMetric(configId: number, metric: number, op: MetricOp, labels: string[], value: number): MetricUpdate {
    this.#metricUpdate(configId, metric, op, labels, value)
    return MetricUpdate.Done
  }

  // ---- Per-route config ----
  routeConfig(token: StreamToken): [number, string] | undefined {
    return this.#entry(token, 'routeConfig').routeConfig
  }

  // ---- Callouts (fake clusters) ----
  calloutStart(token: StreamToken, cluster: string, headers: string[], body: string | Uint8Array | null, endStream: boolean, timeoutMs: number, buffered: boolean): number {
    const entry = this.#writable(token, 'fetch')
    if (typeof cluster !== 'string') throw invalidArgument('fetch: the cluster must be a string')
    const pairs: [string, string][] = []
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const pseudo = typeof headers[i] === 'string' && headers[i]!.startsWith(':')
      const pair = this.checkedHeader(headers[i], headers[i + 1], 'fetch', 'request', pseudo ? 'set' : 'add')
      if (pseudo && pairs.some(([k]) => k === pair[0])) throw invalidArgument(`fetch: ${pair[0]} given twice`)
      pairs.push(pair)
    }
    const get = (name: string) => pairs.find(([k]) => k === name)?.[1]
    const authority = get(':authority') ?? get('host')
    if (get(':method') === undefined || get(':path') === undefined || authority === undefined) {
      throw new CalloutError('missing_required_headers', `fetch(${cluster}): Envoy refused the request: it needs :method, :path and host (:authority)`)
    }
    const handler = this.#opts.clusters[cluster]
    if (!handler) {
      throw new CalloutError('cluster_not_found', `fetch(${cluster}): Envoy has no cluster named '${cluster}' (callouts go to clusters of the Envoy config, by name)`)
    }
    const callouts = entry.callouts
    const id = callouts.nextId++
    const callout: KitCallout = {
      id,
      streamed: !buffered,
      cluster: handler,
      request: {
        method: get(':method')!,
        path: get(':path')!,
        authority,
        headers: pairs.filter(([k]) => !k.startsWith(':')),
        body: new Uint8Array(0),
        trailers: [],
      },
      body: body === null || body === undefined ? [] : [toBytes(body)],
      ended: buffered || endStream,
      timer: undefined,
      done: false,
    }
    callouts.live.set(id, callout)
    if (timeoutMs > 0) {
      callout.timer = this.clock.setTimeout(() => entry.post(() => this.#answer(entry, callout, { status: 504, body: 'upstream request timeout', headers: { 'content-type': 'text/plain' } })), timeoutMs)
    }
    if (callout.ended) this.#send(entry, callout)
    return id
  }

  // The whole request is there: the cluster answers (later, as Envoy's events come from its loop).
  #send(entry: StreamEntry, callout: KitCallout): void {
    callout.request.body = concat(callout.body)
    Promise.resolve()
      .then(() => callout.cluster(callout.request))
      .then(
        (answer) => entry.post(() => this.#answer(entry, callout, answer)),
        () => entry.post(() => this.#answer(entry, callout, 'reset')),
      )
  }

  #answer(entry: StreamEntry, callout: KitCallout, answer: UpstreamAnswer | 'unreachable' | 'reset'): void {
    if (callout.done || !entry.callouts.live.has(callout.id) || !entry.module.alive) return
    callout.done = true
    if (callout.timer !== undefined) this.clock.clearTimeout(callout.timer)
    const events = entry.callouts.events
    const id = callout.id
    if (answer === 'reset') {
      events.push(id, CalloutEventType.Failed, callout.streamed ? 'reset:local_reset' : 'reset')
    } else {
      const response: UpstreamAnswer =
        answer === 'unreachable'
          ? { status: 503, headers: { 'content-type': 'text/plain' }, body: 'upstream connect error or disconnect/reset before headers. reset reason: remote connection failure' }
          : answer
      const headers = response.headers === undefined ? [] : [...(Symbol.iterator in Object(response.headers) ? (response.headers as Iterable<[string, string]>) : Object.entries(response.headers))]
      const frames = (response.body === undefined ? [] : Array.isArray(response.body) ? response.body : [response.body]).map(toBytes).filter((f) => f.length > 0)
      const trailers = response.trailers === undefined ? [] : [...(Symbol.iterator in Object(response.trailers) ? (response.trailers as Iterable<[string, string]>) : Object.entries(response.trailers))]
      const pairs = headers.map(([k, v]) => [k.toLowerCase(), v] as [string, string])
      if (!callout.streamed) {
        const whole = concat(frames)
        events.push(id, CalloutEventType.Headers, response.status, calloutHeaderString(pairs), whole.length === 0)
        if (whole.length > 0) events.push(id, CalloutEventType.Data, Buffer.from(whole), true)
      } else {
        const bodiless = frames.length === 0 && trailers.length === 0
        events.push(id, CalloutEventType.Headers, response.status, calloutHeaderString(pairs), bodiless)
        for (const frame of frames) events.push(id, CalloutEventType.Data, Buffer.from(frame), false)
        if (trailers.length > 0) events.push(id, CalloutEventType.Trailers, calloutHeaderString(trailers.map(([k, v]) => [k.toLowerCase(), v])))
        else if (!bodiless) events.push(id, CalloutEventType.Data, Buffer.alloc(0), true)
      }
      events.push(id, CalloutEventType.Complete)
    }
    entry.callouts.live.delete(id)
    entry.announceCallouts()
  }

  calloutSend(token: StreamToken, id: number, data: string | Uint8Array, endStream: boolean): boolean {
    const entry = this.#writable(token, 'fetch (request body)')
    const callout = entry.callouts.live.get(id)
    if (!callout || callout.ended) return false
    callout.body.push(toBytes(data))
    if (endStream) {
      callout.ended = true
      this.#send(entry, callout)
    }
    return true
  }

  calloutTrailers(token: StreamToken, id: number, trailers: string[]): boolean {
    const entry = this.#writable(token, 'fetch (request trailers)')
    const callout = entry.callouts.live.get(id)
    if (!callout || callout.ended) return false
    for (let i = 0; i + 1 < trailers.length; i += 2) callout.request.trailers.push(this.checkedHeader(trailers[i], trailers[i + 1], 'fetch (request trailers)', 'request trailers', 'add'))
    callout.ended = true
    this.#send(entry, callout)
    return true
  }

  calloutReset(token: StreamToken, id: number, _reset: boolean): void {
    const entry = this.#entry(token, 'fetch (abort)')
    const callout = entry.callouts.live.get(id)
    if (!callout) return
    callout.done = true
    if (callout.timer !== undefined) this.clock.clearTimeout(callout.timer)
    entry.callouts.live.delete(id)
  }

  calloutEvents(token: StreamToken): unknown[] {
    const entry = this.#entry(token, 'fetch (events)', false)
    const events = entry.callouts.events
    entry.callouts.events = []
    return events
  }

  // ---- Shared state ----
  #key(key: unknown, operation: string): string {
    if (typeof key !== 'string') throw invalidArgument(`${operation}: the key must be a string, got ${typeof key}`)
    if (key.length === 0 || Buffer.byteLength(key) > 4096) throw invalidArgument(`${operation}: the key must be 1..4096 bytes (UTF-8)`)
    return key
  }

  #value(value: unknown, operation: string): string | number {
    if (typeof value === 'string') return value
    if (typeof value === 'number' && Number.isFinite(value)) return value
    throw invalidArgument(`${operation}: the value must be a string or a number, got ${typeof value}`)
  }

  #ttl(ttl: unknown, operation: string): number | undefined {
    if (ttl === undefined) return undefined
    if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl < 0) throw invalidArgument(`${operation}: ttlMs must be a number of milliseconds >= 0`)
    return ttl
  }

  sharedGet(key: string): string | number | undefined {
    return this.#opts.shared.get(this.#key(key, 'shared.get'))
  }

  sharedSet(key: string, value: string | number, ttlMs: number | undefined): void {
    this.#opts.shared.set(this.#key(key, 'shared.set'), this.#value(value, 'shared.set'), this.#ttl(ttlMs, 'shared.set'))
  }

  sharedIncrement(key: string, delta: number, ttlMs: number | undefined): number {
    if (typeof delta !== 'number' || !Number.isFinite(delta)) throw invalidArgument('shared.increment: the delta must be a finite number')
    return this.#opts.shared.increment(this.#key(key, 'shared.increment'), delta, this.#ttl(ttlMs, 'shared.increment'))
  }

  sharedCompareAndSet(key: string, expected: string | number | undefined, value: string | number, ttlMs: number | undefined): boolean {
    const k = this.#key(key, 'shared.compareAndSet')
    const e = expected === undefined ? undefined : this.#value(expected, 'shared.compareAndSet')
    return this.#opts.shared.compareAndSet(k, e, this.#value(value, 'shared.compareAndSet'), this.#ttl(ttlMs, 'shared.compareAndSet'))
  }

  sharedDelete(key: string): boolean {
    return this.#opts.shared.delete(this.#key(key, 'shared.delete'))
  }
}

const TARGETS: Record<number, HeaderTarget> = {
  [HeaderMapType.Request]: 'request',
  [HeaderMapType.RequestTrailers]: 'request trailers',
  [HeaderMapType.Response]: 'response',
  [HeaderMapType.ResponseTrailers]: 'response trailers',
}
