// The native binding libnodevoy installs in each Node environment (host/module/binding.cc).
// Internal to the SDK: filter code never sees it.

/** Hook kinds; bit (1 << kind) of a filter instance's `hooks` mask. */
export const enum HookKind {
  RequestHeaders = 1,
  RequestBody = 2,
  RequestTrailers = 3,
  ResponseHeaders = 4,
  ResponseBody = 5,
  ResponseTrailers = 6,
  StreamComplete = 7,
}

/** Results of dispatch besides Envoy status values (>= 0). */
export const enum DispatchResult {
  Pending = -1,
  Error = -2,
  Replied = -3,
}

/** Envoy header map types (ABI http_header_type). */
export const enum HeaderMapType {
  Request = 0,
  RequestTrailers = 1,
  Response = 2,
  ResponseTrailers = 3,
}

/** Stream token: identifies one stream and its generation; stale tokens make calls throw. */
export type StreamToken = number

export interface NativeBinding {
  log(level: number, message: string): void
  /** Logs and counts an error outside every hook. */
  uncaught(message: string): void
  logEnabled(level: number): boolean
  /** All headers of a map as "k\0v\0k\0v" (latin1), in one crossing. */
  getHeaders(token: StreamToken, type: HeaderMapType): string
  /** Checks the name and value (throws NODEVOY_ERR_INVALID_ARGUMENT), then sets; null removes. */
  setHeader(token: StreamToken, type: HeaderMapType, name: string, value: string | null): boolean
  addHeader(token: StreamToken, type: HeaderMapType, name: string, value: string): boolean
  /** Checks everything first, then answers; headers as [name, value, ...]. */
  sendLocalReply(token: StreamToken, status: number, body: string | Uint8Array | null, headers: string[], details: string): void
  /** An async hook of `kind` settled (or a stopped stream continues) with `result`. */
  resume(token: StreamToken, kind: HookKind, result: number): void
  /** [crossings, bytesCopied] for the stream. */
  counters(token: StreamToken): [number, number]
  /** [streamId, workerIndex]. */
  streamInfo(token: StreamToken): [number, number]
  workerIndex(): number
  /** Live generation of each stream slot (0 = free); read by the SDK to check liveness. */
  liveness: Uint32Array
}

/** What a filter definition hands libnodevoy for one config in one environment. */
export interface FilterInstanceHandle {
  hooks: number
  dispatch(kind: HookKind, token: StreamToken, endOfStream: boolean): number
  /** The config is gone: calls the filter's onDestroy. */
  dispose(): void
}

/**
 * The brand libnodevoy looks for on exported filter definitions (host/module/runtime.cc).
 * @internal
 */
export const FILTER_BRAND: unique symbol = Symbol.for('nodevoy.filter.v1') as never

/** @internal */
export interface FilterBrand {
  name: string
  instantiate(binding: NativeBinding, configJson: string, filterId: number): FilterInstanceHandle
}
