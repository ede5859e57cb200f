// The per-config dispatcher libnodevoy calls for every hook, and the per-stream state behind the
// objects filter code receives.
import type { Callbacks, DataPathStats, LogLevel, ReplyHeaders } from './callbacks.js'
import { NodevoyError, StreamGoneError } from './errors.js'
import { HeaderMapImpl, RequestHeaderMapImpl, ResponseHeaderMapImpl } from './headers.js'
import type { FilterHooks, HookResult } from './filter.js'
import {
  DispatchResult,
  HeaderMapType,
  HookKind,
  type FilterInstanceHandle,
  type NativeBinding,
  type StreamToken,
} from './native.js'

const SLOTS = 65536
const LEVELS = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, critical: 5 } as const satisfies Record<LogLevel, number>

/** A stream's token and its liveness check (a typed-array read; no native crossing). */
export class StreamLink {
  readonly token: StreamToken
  readonly #slot: number
  readonly #generation: number
  readonly #liveness: Uint32Array

  constructor(token: StreamToken, liveness: Uint32Array) {
    this.token = token
    this.#slot = token % SLOTS
    this.#generation = Math.floor(token / SLOTS)
    this.#liveness = liveness
  }

  get alive(): boolean {
    return this.#liveness[this.#slot] === this.#generation
  }

  check(): void {
    if (this.#liveness[this.#slot] !== this.#generation) throw new StreamGoneError()
  }

  /** Set when onStreamComplete starts: the response is done, so nothing may change any more. */
  complete = false

  /** Like check(), and the stream must not be complete (writes, replies, continues). */
  checkWritable(): void {
    this.check()
    if (this.complete) {
      throw new NodevoyError(
        'NODEVOY_ERR_STREAM_COMPLETE',
        'the stream is complete (its response was sent or it was reset): headers can be read, but not changed, and no reply can be sent',
      )
    }
  }
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

/** One direction's hook state, as the SDK sees it. */
class Direction {
  /** The hook of this direction that is running or awaiting its promise (0: none). */
  busy: HookKind | 0 = 0
  /** The hook that returned 'stop' and waits for continueRequest()/continueResponse() (0: none). */
  stopped: HookKind | 0 = 0
  /** continue was called while the hook was still busy: its 'stop' then continues at once. */
  continueEarly = false
}

class StreamState implements Callbacks {
  readonly link: StreamLink
  readonly #binding: NativeBinding
  readonly #filterName: string
  #requestHeaders: RequestHeaderMapImpl | undefined
  #responseHeaders: ResponseHeaderMapImpl | undefined
  replied = false
  readonly request = new Direction()
  readonly response = new Direction()

  constructor(binding: NativeBinding, filterName: string, link: StreamLink) {
    this.#binding = binding
    this.#filterName = filterName
    this.link = link
  }

  requestHeaders(): RequestHeaderMapImpl {
    return (this.#requestHeaders ??= new RequestHeaderMapImpl(this.#binding, this.link, HeaderMapType.Request))
  }

  responseHeaders(): ResponseHeaderMapImpl {
    return (this.#responseHeaders ??= new ResponseHeaderMapImpl(this.#binding, this.link, HeaderMapType.Response))
  }

  direction(kind: HookKind): Direction {
    return kind === HookKind.RequestHeaders || kind === HookKind.RequestBody || kind === HookKind.RequestTrailers
      ? this.request
      : this.response
  }

  sendLocalReply(status: number, body?: string | Uint8Array, headers?: ReplyHeaders, details?: string): void {
    this.link.checkWritable()
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', `sendLocalReply: status must be an integer 200..599, got ${String(status)}`)
    }
    if (this.replied) throw new NodevoyError('NODEVOY_ERR_ALREADY_REPLIED', 'sendLocalReply: this stream was already answered')
    // libnodevoy checks everything before anything changes: a refused reply leaves the stream as it was.
    this.#binding.sendLocalReply(this.link.token, status, body ?? null, flattenHeaders(headers), details ?? 'nodevoy_local_reply')
    this.replied = true
  }

  log(level: LogLevel, message: string): void {
    this.link.check()
    const numeric = LEVELS[level] ?? LEVELS.info
    if (!this.#binding.logEnabled(numeric)) return
    this.#binding.log(numeric, `[${this.#filterName}][stream ${this.streamId}] ${message}`)
  }

  continueRequest(): void {
    this.#continue(this.request)
  }

  continueResponse(): void {
    this.#continue(this.response)
  }

  #continue(direction: Direction): void {
    this.link.checkWritable()
    if (direction.stopped !== 0) {
      const kind = direction.stopped
      direction.stopped = 0
      this.#binding.resume(this.link.token, kind, ENVOY_CONTINUE)
    } else if (direction.busy !== 0) {
      direction.continueEarly = true  // called before the hook returned 'stop': that 'stop' continues at once
    }
    // Otherwise the direction is not stopped: nothing to continue (Envoy ignores such a continue too).
  }

  get streamId(): number {
    this.link.check()
    return this.#binding.streamInfo(this.link.token)[0]
  }

  get workerIndex(): number {
    return this.#binding.workerIndex()
  }

  dataPathStats(): DataPathStats {
    this.link.check()
    const [crossings, bytesCopied] = this.#binding.counters(this.link.token)
    return { crossings, bytesCopied }
  }
}

/** Envoy's Continue and StopIteration (the same value in every status family). */
const ENVOY_CONTINUE = 0
const ENVOY_STOP_ITERATION = 1

const HOOK_NAMES: Record<number, string> = {
  [HookKind.RequestHeaders]: 'onRequestHeaders',
  [HookKind.ResponseHeaders]: 'onResponseHeaders',
  [HookKind.StreamComplete]: 'onStreamComplete',
}

/** Describes any thrown value, never throwing itself (null-prototype objects, throwing getters). */
export function describe(error: unknown): string {
  try {
    if (error instanceof Error) {
      const stack = error.stack
      if (typeof stack === 'string' && stack !== '') return stack
      return `${error.name}: ${error.message}`
    }
    return String(error)
  } catch {
    // fall through
  }
  try {
    return Object.prototype.toString.call(error)
  } catch {
    return '(a value that cannot be described)'
  }
}

/** Builds what libnodevoy calls for one filter config in one Node environment. */
export function createDispatcher(
  binding: NativeBinding,
  liveness: Uint32Array,
  filterName: string,
  hooks: FilterHooks,
): FilterInstanceHandle {
  const streams: (StreamState | undefined)[] = []
  let mask = 0
  if (hooks.onRequestHeaders) mask |= 1 << HookKind.RequestHeaders
  if (hooks.onResponseHeaders) mask |= 1 << HookKind.ResponseHeaders
  if (hooks.onStreamComplete) mask |= 1 << HookKind.StreamComplete

  // Logs a failed hook; never throws, whatever was thrown (every settle path must answer the stream).
  const fail = (state: StreamState, kind: HookKind, error: unknown): number => {
    state.direction(kind).busy = 0
    try {
      let id = -1
      try {
        id = state.link.alive ? binding.streamInfo(state.link.token)[0] : -1
      } catch {
        // the stream may be gone by now
      }
      binding.log(LEVELS.error, `nodevoy: filter '${filterName}' ${HOOK_NAMES[kind] ?? 'hook'} failed on stream ${id}: ${describe(error)}`)
    } catch {
      // logging must not stop the stream from being answered
    }
    return DispatchResult.Error
  }

  const settle = (state: StreamState, kind: HookKind, result: HookResult): number => {
    const direction = state.direction(kind)
    direction.busy = 0
    const early = direction.continueEarly
    direction.continueEarly = false
    if (state.replied) return DispatchResult.Replied
    if (result === 'stop') {
      if (early) return ENVOY_CONTINUE  // continueRequest()/continueResponse() came first
      direction.stopped = kind
      return ENVOY_STOP_ITERATION  // continueRequest/continueResponse resumes
    }
    if (result === undefined || result === 'continue') return ENVOY_CONTINUE
    throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', `a hook must return 'continue', 'stop' or nothing, got ${describe(result)}`)
  }

  // An async hook settled: always tells libnodevoy, whatever the promise held.
  const settleLater = (state: StreamState, kind: HookKind, token: StreamToken, promise: Promise<HookResult>): void => {
    const deliver = (outcome: () => number): void => {
      let result: number
      try {
        result = outcome()
      } catch (error) {
        result = fail(state, kind, error)
      }
      if (state.link.alive) binding.resume(token, kind, result)
    }
    promise.then(
      (value) => deliver(() => settle(state, kind, value)),
      (error: unknown) => deliver(() => fail(state, kind, error)),
    )
  }

  const dispatch = (kind: HookKind, token: StreamToken, endOfStream: boolean): number => {
    const slot = token % SLOTS
    let state = streams[slot]
    if (state === undefined || state.link.token !== token) {
      state = new StreamState(binding, filterName, new StreamLink(token, liveness))
      streams[slot] = state
    }
    try {
      let returned: HookResult | Promise<HookResult>
      switch (kind) {
        case HookKind.RequestHeaders:
          state.request.busy = kind
          returned = hooks.onRequestHeaders!(state.requestHeaders(), state, endOfStream)
          break
        case HookKind.ResponseHeaders:
          state.response.busy = kind
          returned = hooks.onResponseHeaders!(state.responseHeaders(), state, endOfStream)
          break
        case HookKind.StreamComplete:
          state.link.complete = true
          returned = hooks.onStreamComplete!(state)
          break
        default:
          return ENVOY_CONTINUE
      }
      if (returned !== null && typeof returned === 'object' && typeof (returned as Promise<HookResult>).then === 'function') {
        if (kind === HookKind.StreamComplete) {
          // Nothing waits for it: the stream is over. A rejection is still the filter's error.
          Promise.resolve(returned).then(undefined, (error: unknown) => fail(state, kind, error))
          return ENVOY_CONTINUE
        }
        // Promise.resolve adopts any thenable; a throwing `then` becomes a rejection.
        settleLater(state, kind, token, Promise.resolve(returned))
        return DispatchResult.Pending
      }
      return settle(state, kind, returned as HookResult)
    } catch (error) {
      return fail(state, kind, error)
    }
  }
  const dispose = (): void => {
    streams.length = 0
    hooks.onDestroy?.()
  }
  return { hooks: mask, dispatch, dispose }
}
