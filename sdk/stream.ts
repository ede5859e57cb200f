import type { Body } from './body.js'
import type { CalloutInit, CalloutResponse } from './fetch.js'
import type { RequestHeaderMap, ResponseHeaderMap, TrailerMap } from './headers.js'
import type { FilterState, Metadata, StreamInfo } from './info.js'

/** One direction of a stream: its headers, body and trailers. */
export interface StreamSide<Headers> {
  /** The headers (read them in any hook of the stream; change them before they go on). */
  readonly headers: Headers
  /** The body: read whole or streamed, lazily (nothing is copied unless read). */
  readonly body: Body
  /** The trailers (empty when there are none); changes apply to trailers that exist. */
  readonly trailers: TrailerMap
}

/** What a stream's data path cost so far. */
export interface DataPathStats {
  /** Calls from JS into libnodevoy that reached Envoy for this stream. */
  crossings: number
  /** Bytes of headers and bodies copied from Envoy into JS for this stream. */
  bytesCopied: number
}

/** Log levels, as Envoy's. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'critical'

/** Headers for a local reply: an object or `[name, value]` pairs (repeat a name for several values). */
export type ReplyHeaders = Record<string, string> | Iterable<readonly [string, string]>

/**
 * The handle of one stream (one HTTP request and its response), given to every hook: answer the
 * request, log, resume a stopped direction. One object per stream, the same in every hook.
 * Every method throws {@link StreamGoneError} once the stream has ended; once the response is
 * complete (inside `onStreamComplete`), changes throw `NODEVOY_ERR_STREAM_COMPLETE`.
 */
export interface Stream {
  /** The request: headers, body, trailers. */
  readonly request: StreamSide<RequestHeaderMap>
  /** The response: headers, body, trailers (headers exist once the response started). */
  readonly response: StreamSide<ResponseHeaderMap>
  /** What Envoy knows about the stream: client address, protocol, route, response code, sizes. */
  readonly info: StreamInfo
  /** Dynamic metadata (read and set), and route/cluster/host metadata (read). */
  readonly metadata: Metadata
  /** Envoy's per-stream filter state, shared with other filters. */
  readonly filterState: FilterState
  /**
   * Aborted when the stream ends — its response sent, or the client gone, or a reset — so work
   * started for it (`fetch(url, { signal: stream.signal })`, timers) can stop with it.
   */
  readonly signal: AbortSignal
  /**
   * Sends a request to an Envoy cluster (by its name in the Envoy config) and resolves with the
   * response, like `fetch`: Envoy's load balancing, TLS, circuit breaking and cluster stats apply.
   * `input` is a path (`/verify?token=1`) or an absolute URL (its host becomes `:authority`). The
   * response body streams (`response.body`, `await response.json()`); `response.trailers` has the
   * trailers. The callout is aborted when the stream ends, and by `init.signal`.
   * Rejects with a {@link CalloutError} when Envoy refuses it (unknown cluster, missing headers)
   * or resets it; an unreachable upstream is Envoy's 503 response, a timeout its 504.
   *
   * @example
   * const res = await stream.fetch('auth', '/verify', { headers: { authorization: token } })
   * if (res.status !== 200) stream.sendLocalReply(401, 'denied')
   */
  fetch(cluster: string, input: string | URL, init?: CalloutInit): Promise<CalloutResponse>
  /** Makes Envoy route the request again after its headers changed (a rewritten `:path`, say). */
  clearRouteCache(): void
  /**
   * Answers the request with a local reply (Envoy's sendLocalReply) instead of proxying it. Ends the
   * filter chain; what the hook returns afterwards is ignored. `details` shows in Envoy's access
   * logs as the response code details (default `nodevoy_local_reply`; visible ASCII, no spaces).
   * Everything is checked before anything changes: a refused reply (a bad header, say) throws and
   * leaves the stream as it was.
   */
  sendLocalReply(status: number, body?: string | Uint8Array, headers?: ReplyHeaders, details?: string): void
  /** Logs through Envoy's `dynamic_modules` logger, tagged with the filter name and stream id. */
  log(level: LogLevel, message: string): void
  /**
   * Resumes the request after a request hook returned `'stop'`. Called while that hook is still
   * running (before it returns `'stop'`), the `'stop'` continues at once.
   */
  continueRequest(): void
  /** Resumes the response after a response hook returned `'stop'` (as {@link Stream.continueRequest}). */
  continueResponse(): void
  /** Envoy-wide unique id of this stream within its worker. */
  readonly streamId: number
  /** Index of the Envoy worker thread running this stream. */
  readonly workerIndex: number
  /** How much this stream's data path cost so far: native crossings and bytes copied into JS. */
  dataPathStats(): DataPathStats
}

/**
 * The former name of {@link Stream}.
 * @deprecated Use `Stream`.
 */
export type Callbacks = Stream
