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
const LEVELS: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, critical: 5 }

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
}

function flattenHeaders(headers: ReplyHeaders | undefined): string {
  if (headers === undefined) return ''
  const pairs: (readonly [string, string])[] =
    Symbol.iterator in headers ? [...(headers as Iterable<readonly [string, string]>)] : Object.entries(headers)
  const parts: string[] = []
  for (const [name, value] of pairs) {
    if (/[\0\r\n]/.test(name) || /[\0\r\n]/.test(String(value))) {
      throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', `invalid reply header ${JSON.stringify(name)}`)
    }
    parts.push(name.toLowerCase(), String(value))
  }
  return parts.join('\0')
}

class StreamState implements Callbacks {
  readonly link: StreamLink
  readonly #binding: NativeBinding
  readonly #filterName: string
  #requestHeaders: RequestHeaderMapImpl | undefined
  #responseHeaders: ResponseHeaderMapImpl | undefined
  replied = false
  stopped: HookKind | 0 = 0

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

  sendLocalReply(status: number, body?: string | Uint8Array, headers?: ReplyHeaders, details?: string): void {
    this.link.check()
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', `sendLocalReply: status must be an integer 200..599, got ${status}`)
    }
    if (this.replied) throw new NodevoyError('NODEVOY_ERR_ALREADY_REPLIED', 'sendLocalReply: this stream was already answered')
    this.replied = true
    this.#binding.sendLocalReply(this.link.token, status, body ?? null, flattenHeaders(headers), details ?? 'nodevoy_local_reply')
  }

  log(level: LogLevel, message: string): void {
    this.link.check()
    const numeric = LEVELS[level] ?? 2
    if (!this.#binding.logEnabled(numeric)) return
    this.#binding.log(numeric, `[${this.#filterName}][stream ${this.streamId}] ${message}`)
  }

  continueRequest(): void {
    this.#continue(true)
  }

  continueResponse(): void {
    this.#continue(false)
  }

  #continue(request: boolean): void {
    this.link.check()
    const kind = this.stopped
    const isRequest = kind === HookKind.RequestHeaders || kind === HookKind.RequestBody || kind === HookKind.RequestTrailers
    if (kind === 0 || isRequest !== request) return  // not stopped in that direction: nothing to do
    this.stopped = 0
    this.#binding.resume(this.link.token, kind, 0)
  }

  get streamId(): number {
    this.link.check()
    return this.#binding.streamInfo(this.link.token)[0]
  }

  get workerIndex(): number {
    return this.#binding.workerIndex()
  }

  dataPathStats(): DataPathStats {
    const [crossings, bytesCopied] = this.#binding.counters(this.link.token)
    return { crossings, bytesCopied }
  }
}

const HOOK_NAMES: Record<number, string> = {
  [HookKind.RequestHeaders]: 'onRequestHeaders',
  [HookKind.ResponseHeaders]: 'onResponseHeaders',
  [HookKind.StreamComplete]: 'onStreamComplete',
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`
  return String(error)
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

  const fail = (state: StreamState, kind: HookKind, error: unknown): number => {
    let id = -1
    try {
      id = state.link.alive ? binding.streamInfo(state.link.token)[0] : -1
    } catch {
      // the stream may be gone by now
    }
    binding.log(4, `nodevoy: filter '${filterName}' ${HOOK_NAMES[kind] ?? 'hook'} failed on stream ${id}: ${describe(error)}`)
    return DispatchResult.Error
  }

  const settle = (state: StreamState, kind: HookKind, result: HookResult): number => {
    if (state.replied) return DispatchResult.Replied
    if (result === 'stop') {
      state.stopped = kind
      return 1  // StopIteration; continueRequest/continueResponse resumes
    }
    if (result === undefined || result === 'continue') return 0
    throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', `a hook must return 'continue', 'stop' or nothing, got ${String(result)}`)
  }

  const dispatch = (kind: HookKind, token: StreamToken, endOfStream: boolean): number => {
    const slot = token % 65536
    let state = streams[slot]
    if (state === undefined || state.link.token !== token) {
      state = new StreamState(binding, filterName, new StreamLink(token, liveness))
      streams[slot] = state
    }
    let returned: HookResult | Promise<HookResult>
    try {
      switch (kind) {
        case HookKind.RequestHeaders:
          returned = hooks.onRequestHeaders!(state.requestHeaders(), state, endOfStream)
          break
        case HookKind.ResponseHeaders:
          returned = hooks.onResponseHeaders!(state.responseHeaders(), state, endOfStream)
          break
        case HookKind.StreamComplete:
          returned = hooks.onStreamComplete!(state)
          break
        default:
          return 0
      }
      if (returned !== null && typeof returned === 'object' && typeof (returned as Promise<HookResult>).then === 'function') {
        const current = state
        ;(returned as Promise<HookResult>).then(
          (value) => {
            let result: number
            try {
              result = settle(current, kind, value)
            } catch (error) {
              result = fail(current, kind, error)
            }
            if (current.link.alive) binding.resume(token, kind, result)
          },
          (error: unknown) => {
            const result = fail(current, kind, error)
            if (current.link.alive) binding.resume(token, kind, result)
          },
        )
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
