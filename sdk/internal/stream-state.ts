// The SDK's state of one stream in one environment: its link to libnodevoy, its header maps (with
// their caches), the filter's per-stream instance, and the public Stream facade. The direction
// state (running, waiting on a promise, stopped) is libnodevoy's alone (host/module/stream.h).
import { BodyChunkImpl, BodyImpl } from '../body.js'
import { NodevoyError } from '../errors.js'
import type { FilterHooks } from '../filter.js'
import { HeaderMapImpl, RequestHeaderMapImpl, ResponseHeaderMapImpl } from '../headers.js'
import { createFilterState, createMetadata, createStreamInfo, type FilterState, type Metadata, type StreamInfo } from '../info.js'
import type { CalloutInit, CalloutResponse } from '../fetch.js'
import type { DataPathStats, LogLevel, ReplyHeaders, Stream, StreamSide } from '../stream.js'
import type { NativeBinding } from './binding.js'
import { startCallout, StreamCallouts } from './callouts.js'
import { clockOf } from './clock.js'
import { Direction, HeaderMapType, LogLevelValue } from './contract.js'
import { StreamLink } from './link.js'

export const LOG_LEVELS: Record<LogLevel, LogLevelValue> = {
  trace: LogLevelValue.Trace,
  debug: LogLevelValue.Debug,
  info: LogLevelValue.Info,
  warn: LogLevelValue.Warn,
  error: LogLevelValue.Error,
  critical: LogLevelValue.Critical,
}

/** Reply headers as [name, value, name, value, ...]; libnodevoy checks every name and value. */
function flattenHeaders(headers: ReplyHeaders | undefined): string[] {
  if (headers === undefined || headers === null) return []
  if (typeof headers !== 'object') {
    throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', 'sendLocalReply: headers must be an object or [name, value] pairs')
  }
  const pairs: Iterable<readonly [string, string]> =
    Symbol.iterator in headers ? (headers as Iterable<readonly [string, string]>) : Object.entries(headers)
  const flat: string[] = []
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', 'sendLocalReply: each header must be a [name, value] pair')
    }
    flat.push(pair[0], pair[1])
  }
  return flat
}

/** One direction's headers, body and trailers, made on first use. */
class Side<Headers extends HeaderMapImpl> implements StreamSide<Headers> {
  readonly #state: StreamState
  readonly #direction: Direction
  #headers: Headers | undefined
  #body: BodyImpl | undefined
  #trailers: HeaderMapImpl | undefined

  constructor(state: StreamState, direction: Direction) {
    this.#state = state
    this.#direction = direction
  }

  get headers(): Headers {
    if (this.#headers === undefined) {
      const binding = StreamState.binding(this.#state)
      const link = StreamState.link(this.#state)
      this.#headers = (
        this.#direction === Direction.Request
          ? new RequestHeaderMapImpl(binding, link, HeaderMapType.Request)
          : new ResponseHeaderMapImpl(binding, link, HeaderMapType.Response)
      ) as HeaderMapImpl as Headers
    }
    return this.#headers
  }

  get body(): BodyImpl {
    if (this.#body === undefined) {
      const state = this.#state
      this.#body = new BodyImpl(StreamState.binding(state), StreamState.link(state), this.#direction, () => StreamState.watchComplete(state))
    }
    return this.#body
  }

  get trailers(): HeaderMapImpl {
    const type = this.#direction === Direction.Request ? HeaderMapType.RequestTrailers : HeaderMapType.ResponseTrailers
    return (this.#trailers ??= new HeaderMapImpl(StreamState.binding(this.#state), StreamState.link(this.#state), type))
  }

  /** The body, if the filter touched it (the dispatcher must not make one). */
  get touchedBody(): BodyImpl | undefined {
    return this.#body
  }
}

/**
 * The public Stream of one stream. Everything the SDK keeps about the stream is in #private fields,
 * reached by the dispatcher through the static accessors below: filter code sees only `Stream`.
 * Made for every stream, so it makes nothing else until asked (a no-op hook allocates this and its
 * link only).
 */
export class StreamState implements Stream {
  readonly #link: StreamLink
  readonly #binding: NativeBinding
  readonly #filterName: string
  #request: Side<RequestHeaderMapImpl> | undefined
  #response: Side<ResponseHeaderMapImpl> | undefined
  #info: StreamInfo | undefined
  #metadata: Metadata | undefined
  #filterState: FilterState | undefined
  #abort: AbortController | undefined
  #watchingComplete = false
  #completed = false
  /** Settle timers of held hooks, by direction (1 request, 2 response); made when one is armed. */
  #timers: unknown[] | undefined
  #filter: FilterHooks | undefined
  #callouts: StreamCallouts | undefined

  constructor(binding: NativeBinding, filterName: string, link: StreamLink) {
    this.#binding = binding
    this.#filterName = filterName
    this.#link = link
  }

  /** Tags console output from this stream's hooks (LOG_CONTEXT). */
  static logPrefix(state: StreamState): string {
    return `[${state.#filterName}][stream ${state.#link.alive ? state.streamId : 'gone'}]`
  }

  /** onStreamComplete must reach the SDK for this stream, hook or not. */
  static watchComplete(state: StreamState): void {
    if (state.#watchingComplete) return
    state.#watchingComplete = true
    state.#binding.notifyComplete(state.#link.token)
  }

  static link(state: StreamState): StreamLink {
    return state.#link
  }

  /** A direction's body, if the filter touched it (makes nothing). */
  static touchedBody(state: StreamState, direction: Direction): BodyImpl | undefined {
    return (direction === Direction.Request ? state.#request : state.#response)?.touchedBody
  }

  static chunk(state: StreamState, direction: Direction): BodyChunkImpl {
    return new BodyChunkImpl(state.#binding, state.#link, direction)
  }

  /** Arms the settle timer of a direction's held hook (a pending promise, or a 'stop'). */
  static armTimeout(state: StreamState, direction: Direction, ms: number): void {
    StreamState.clearTimeout(state, direction)
    const timers = (state.#timers ??= [])
    const timer = clockOf(state.#binding).setTimeout(() => {
      timers[direction] = undefined
      if (!state.#link.alive) return
      // The signal first: answering the stream completes it, which would abort it as "complete".
      state.#abort?.abort(new DOMException(`the ${direction === Direction.Request ? 'request' : 'response'} hook did not settle in time`, 'TimeoutError'))
      state.#binding.timeoutStream(state.#link.token, direction)
    }, ms, true)
    timers[direction] = timer
  }

  static clearTimeout(state: StreamState, direction: Direction): void {
    const timers = state.#timers
    const timer = timers?.[direction]
    if (timer !== undefined) {
      clockOf(state.#binding).clearTimeout(timer)
      timers![direction] = undefined
    }
  }

  /** The stream is complete: its signal aborts, reads still waiting reject. */
  static complete(state: StreamState): void {
    state.#completed = true
    StreamState.clearTimeout(state, Direction.Request)
    StreamState.clearTimeout(state, Direction.Response)
    state.#abort?.abort(new DOMException('the stream is complete (its response was sent, or it was reset)', 'AbortError'))
    state.#request?.touchedBody?.complete()
    state.#response?.touchedBody?.complete()
  }

  get request(): StreamSide<RequestHeaderMapImpl> {
    return (this.#request ??= new Side(this, Direction.Request))
  }

  get response(): StreamSide<ResponseHeaderMapImpl> {
    return (this.#response ??= new Side(this, Direction.Response))
  }

  get info(): StreamInfo {
    return (this.#info ??= createStreamInfo(this.#binding, this.#link))
  }

  get metadata(): Metadata {
    return (this.#metadata ??= createMetadata(this.#binding, this.#link))
  }

  get filterState(): FilterState {
    return (this.#filterState ??= createFilterState(this.#binding, this.#link))
  }

  get signal(): AbortSignal {
    if (!this.#abort) {
      this.#abort = new AbortController()
      if (this.#link.alive && !this.#completed) StreamState.watchComplete(this)
      else this.#abort.abort(new DOMException('the stream is complete (its response was sent, or it was reset)', 'AbortError'))
    }
    return this.#abort.signal
  }

  fetch(cluster: string, input: string | URL, init?: CalloutInit): Promise<CalloutResponse> {
    const callouts = (this.#callouts ??= new StreamCallouts())
    return startCallout(this.#binding, { link: this.#link, callouts, signal: this.signal }, cluster, input, init)
  }

  /** The stream's callouts, if it started any (the dispatcher hands them their events). */
  static callouts(state: StreamState): StreamCallouts | undefined {
    return state.#callouts
  }

  /** The SDK's binding (for per-stream features outside this class). */
  static binding(state: StreamState): NativeBinding {
    return state.#binding
  }

  clearRouteCache(): void {
    this.#link.check()
    this.#binding.clearRouteCache(this.#link.token)
  }

  /** The filter's per-stream instance (a class filter, made on first use) or its shared hooks. */
  static filter(state: StreamState, make: (stream: Stream) => FilterHooks): FilterHooks {
    return (state.#filter ??= make(state))
  }

  sendLocalReply(status: number, body?: string | Uint8Array, headers?: ReplyHeaders, details?: string): void {
    this.#link.check()
    // libnodevoy checks everything (status, body, every header, details) before anything changes.
    this.#binding.sendLocalReply(this.#link.token, status, body ?? null, flattenHeaders(headers), details ?? 'nodevoy_local_reply')
  }

  log(level: LogLevel, message: string): void {
    this.#link.check()
    const numeric = LOG_LEVELS[level] ?? LogLevelValue.Info
    if (!this.#binding.logEnabled(numeric)) return
    this.#binding.log(numeric, `[${this.#filterName}][stream ${this.streamId}] ${message}`)
  }

  continueRequest(): void {
    this.#link.check()
    StreamState.clearTimeout(this, Direction.Request)
    this.#binding.continueStream(this.#link.token, Direction.Request)
  }

  continueResponse(): void {
    this.#link.check()
    StreamState.clearTimeout(this, Direction.Response)
    this.#binding.continueStream(this.#link.token, Direction.Response)
  }

  get streamId(): number {
    this.#link.check()
    return this.#binding.streamInfo(this.#link.token)[0]
  }

  get workerIndex(): number {
    return this.#binding.workerIndex()
  }

  dataPathStats(): DataPathStats {
    this.#link.check()
    const [crossings, bytesCopied] = this.#binding.counters(this.#link.token)
    return { crossings, bytesCopied }
  }
}
