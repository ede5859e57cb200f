// The per-config dispatcher libnodevoy calls for every hook of every stream in one environment:
// finds (or makes) the stream's state and the filter's instance, runs the hook, and turns what it
// returned — a result, a promise, or a throw — into an Action (sdk/internal/contract.ts). It never
// throws and always answers: every settle path reaches libnodevoy whatever the hook produced.
import { NodevoyError } from '../errors.js'
import type { FilterHooks, HookResult } from '../filter.js'
import type { Stream } from '../stream.js'
import type { FilterInstanceHandle, NativeBinding, StreamToken } from './binding.js'
import { Action, Direction, HOOKS, HookKind, LOG_CONTEXT, LogLevelValue, SLOTS } from './contract.js'
import { describe } from './describe.js'
import { currentRecord } from './current.js'
import { StreamLink } from './link.js'
import { StreamState } from './stream-state.js'

/** What create() returned: shared hooks (stateless filter) or a class made once per stream. */
export type Created = FilterHooks | (new (stream: Stream) => FilterHooks)

const HOOK_NAMES: Record<number, string> = Object.fromEntries(HOOKS.map((h) => [h.kind, h.name]))
const HOOK_DIRECTIONS: Record<number, Direction> = Object.fromEntries(HOOKS.map((h) => [h.kind, h.direction]))

/** What console output inside a hook is tagged with (read by the bootstrap's console). */
export interface LogContext {
  logPrefix(): string
}

/** The cell the bootstrap's console reads (LOG_CONTEXT), shared by every copy of the SDK. */
const logCell: { current: LogContext | undefined } = ((globalThis as unknown as Record<symbol, { current: LogContext | undefined } | undefined>)[
  Symbol.for(LOG_CONTEXT)
] ??= { current: undefined })

/** Runs fn with console output tagged by context. */
export function withLogContext<T>(context: LogContext, fn: () => T): T {
  const previous = logCell.current
  logCell.current = context
  try {
    return fn()
  } finally {
    logCell.current = previous
  }
}

/** Bit (1 << kind) for each hook the filter implements (own or inherited methods). */
export function hookMask(target: object): number {
  let mask = 0
  for (const hook of HOOKS) {
    if (typeof (target as Record<string, unknown>)[hook.name] === 'function') mask |= 1 << hook.kind
  }
  return mask
}

function isThenable(value: unknown): value is PromiseLike<HookResult> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function'
}

/** What a dispatcher needs besides the hooks. */
export interface DispatcherOptions {
  /** The config is gone (the filter's onDestroy callbacks). */
  onDestroy?: () => void
  /** libnodevoy's id of the filter config (what config-level calls name). */
  configId?: number
  /** Runs before each hook with the stream's token (metric updates that waited for a stream). */
  beforeHook?: (token: StreamToken) => void
  /** How long a hook's promise may stay pending before the stream is answered (0: never). */
  settleTimeoutMs?: number
}

/** Builds what libnodevoy calls for one filter config in one Node environment. */
export function createDispatcher(binding: NativeBinding, filterName: string, created: Created, options: DispatcherOptions = {}): FilterInstanceHandle {
  const { onDestroy, configId = -1, beforeHook, settleTimeoutMs = 30_000 } = options
  const liveness = binding.liveness
  // The log context of the stream whose hook runs now (one object per dispatcher, no allocation).
  const logContext = {
    state: undefined as StreamState | undefined,
    logPrefix(): string {
      return this.state ? StreamState.logPrefix(this.state) : `[${filterName}]`
    },
  }
  const streams: (StreamState | undefined)[] = []
  const perStream = typeof created === 'function'
  const FilterClass = created as new (stream: Stream) => FilterHooks
  const shared = created as FilterHooks
  const makeFilter = perStream ? (stream: Stream) => new FilterClass(stream) : () => shared
  // A per-stream instance is made when the request headers arrive (its constructor can read them, and
  // a start time taken there is the stream's), whether or not the class has onRequestHeaders.
  const mask = perStream ? hookMask(FilterClass.prototype) | (1 << HookKind.RequestHeaders) : hookMask(shared)

  // Logs a failed hook; never throws, whatever was thrown.
  const fail = (state: StreamState, kind: HookKind, error: unknown): Action => {
    try {
      let id = -1
      try {
        id = StreamState.link(state).alive ? state.streamId : -1
      } catch {
        // the stream may be gone by now
      }
      binding.log(LogLevelValue.Error, `nodevoy: filter '${filterName}' ${HOOK_NAMES[kind] ?? 'hook'} failed on stream ${id}: ${describe(error)}`)
    } catch {
      // logging must not stop the stream from being answered
    }
    return Action.Error
  }

  const settle = (result: HookResult): Action => {
    if (result === undefined || result === 'continue') return Action.Continue
    if (result === 'stop') return Action.Stop
    throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', `a hook must return 'continue', 'stop' or nothing, got ${describe(result)}`)
  }

  // An async hook settled: always tells libnodevoy, whatever the promise held.
  const settleLater = (state: StreamState, kind: HookKind, promise: Promise<HookResult>): void => {
    const deliver = (outcome: () => Action): void => {
      let action: Action
      try {
        action = outcome()
      } catch (error) {
        action = fail(state, kind, error)
      }
      const link = StreamState.link(state)
      const direction = HOOK_DIRECTIONS[kind]!
      StreamState.clearTimeout(state, direction)
      if (!link.alive) return
      if (action === Action.Stop) StreamState.armTimeout(state, direction, settleTimeoutMs)
      binding.resume(link.token, direction, action)
    }
    promise.then(
      (value) => deliver(() => settle(value)),
      (error: unknown) => deliver(() => fail(state, kind, error)),
    )
  }

  // Runs a hook (or an internal event) for the stream; what it returns, or a promise of it.
  const call = (state: StreamState, kind: HookKind, endOfStream: boolean): HookResult | PromiseLike<HookResult> => {
    switch (kind) {
      case HookKind.RequestHeaders: {
        const filter = StreamState.filter(state, makeFilter)
        return filter.onRequestHeaders ? filter.onRequestHeaders(state.request.headers, state, endOfStream) : undefined
      }
      case HookKind.ResponseHeaders:
        return StreamState.filter(state, makeFilter).onResponseHeaders!(state.response.headers, state, endOfStream)
      case HookKind.RequestBody:
      case HookKind.ResponseBody:
        return body(state, kind, endOfStream)
      case HookKind.RequestTrailers:
        return StreamState.filter(state, makeFilter).onRequestTrailers!(state.request.trailers, state)
      case HookKind.ResponseTrailers:
        return StreamState.filter(state, makeFilter).onResponseTrailers!(state.response.trailers, state)
      case HookKind.RequestBodyEnd:
      case HookKind.ResponseBodyEnd:
        StreamState.touchedBody(state, HOOK_DIRECTIONS[kind]!)?.end()
        return undefined
      case HookKind.Callout: {
        StreamState.callouts(state)?.drain(binding, StreamState.link(state))
        return undefined
      }
      case HookKind.StreamComplete: {
        StreamState.complete(state)
        const filter = StreamState.filter(state, makeFilter)
        return filter.onStreamComplete ? filter.onStreamComplete(state) : undefined
      }
      default:
        return undefined
    }
  }

  // A body frame: to a streaming reader (its backpressure), then to the filter's body hook.
  const body = (state: StreamState, kind: HookKind, endOfStream: boolean): HookResult | PromiseLike<HookResult> => {
    const direction = HOOK_DIRECTIONS[kind]!
    const hold = StreamState.touchedBody(state, direction)?.feed(endOfStream)
    const filter = StreamState.filter(state, makeFilter)
    const hook = kind === HookKind.RequestBody ? filter.onRequestBody : filter.onResponseBody
    const result = hook ? hook.call(filter, StreamState.chunk(state, direction), state, endOfStream) : undefined
    if (!hold) return result
    if (!isThenable(result)) return hold.then(() => result)
    return Promise.all([hold, result]).then(([, value]) => value)
  }

  const dispatch = (kind: HookKind, slot: number, generation: number, endOfStream: boolean): Action => {
    let state = streams[slot]
    if (state === undefined || StreamState.link(state).generation !== generation) {
      state = new StreamState(binding, filterName, new StreamLink(generation * SLOTS + slot, liveness))
      streams[slot] = state
    }
    const token = StreamState.link(state).token
    const previousContext = logCell.current
    const previousState = logContext.state
    const previousToken = currentRecord.token
    const previousConfig = currentRecord.configId
    logContext.state = state
    logCell.current = logContext
    currentRecord.token = token
    currentRecord.configId = configId
    try {
      if (beforeHook !== undefined) beforeHook(token)
      const returned = call(state, kind, endOfStream)
      if (isThenable(returned)) {
        if (kind === HookKind.StreamComplete || kind === HookKind.RequestBodyEnd || kind === HookKind.ResponseBodyEnd || kind === HookKind.Callout) {
          // Nothing waits for it: the stream is over. A rejection is still the filter's error.
          const current = state
          Promise.resolve(returned).then(undefined, (error: unknown) => fail(current, kind, error))
          return Action.Continue
        }
        // Promise.resolve adopts any thenable; a throwing `then` becomes a rejection.
        settleLater(state, kind, Promise.resolve(returned))
        StreamState.armTimeout(state, HOOK_DIRECTIONS[kind]!, settleTimeoutMs)
        return Action.Pending
      }
      const action = settle(returned)
      if (action === Action.Stop) StreamState.armTimeout(state, HOOK_DIRECTIONS[kind]!, settleTimeoutMs)
      return action
    } catch (error) {
      return fail(state, kind, error)
    } finally {
      currentRecord.token = previousToken
      currentRecord.configId = previousConfig
      logCell.current = previousContext
      logContext.state = previousState
    }
  }

  const dispose = (): void => {
    streams.length = 0
    onDestroy?.()
  }
  return { hooks: mask, dispatch, dispose }
}
