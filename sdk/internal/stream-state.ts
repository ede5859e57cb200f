// The SDK's state of one stream in one environment: its link to libnodevoy, its header maps (with
// their caches), the filter's per-stream instance, and the public Stream facade. The direction
// state (running, waiting on a promise, stopped) is libnodevoy's alone (host/module/stream.h).
import { NodevoyError } from '../errors.js'
import type { FilterHooks } from '../filter.js'
import { RequestHeaderMapImpl, ResponseHeaderMapImpl } from '../headers.js'
import type { DataPathStats, LogLevel, ReplyHeaders, Stream } from '../stream.js'
import type { NativeBinding } from './binding.js'
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

/**
 * The public Stream of one stream. Everything the SDK keeps about the stream is in #private fields,
 * reached by the dispatcher through the static accessors below: filter code sees only `Stream`.
 */
export class StreamState implements Stream {
  readonly #link: StreamLink
  readonly #binding: NativeBinding
  readonly #filterName: string
  #requestHeaders: RequestHeaderMapImpl | undefined
  #responseHeaders: ResponseHeaderMapImpl | undefined
  #filter: FilterHooks | undefined

  constructor(binding: NativeBinding, filterName: string, link: StreamLink) {
    this.#binding = binding
    this.#filterName = filterName
    this.#link = link
  }

  static link(state: StreamState): StreamLink {
    return state.#link
  }

  static requestHeaders(state: StreamState): RequestHeaderMapImpl {
    return (state.#requestHeaders ??= new RequestHeaderMapImpl(state.#binding, state.#link, HeaderMapType.Request))
  }

  static responseHeaders(state: StreamState): ResponseHeaderMapImpl {
    return (state.#responseHeaders ??= new ResponseHeaderMapImpl(state.#binding, state.#link, HeaderMapType.Response))
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
    this.#binding.continueStream(this.#link.token, Direction.Request)
  }

  continueResponse(): void {
    this.#link.check()
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
