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
 * The per-stream handle a hook receives: answer the request, log, resume a stopped stream.
 * Every method throws {@link StreamGoneError} once the stream has ended.
 */
export interface Callbacks {
  /**
   * Answers the request with a local reply (Envoy's sendLocalReply) instead of proxying it. Ends the
   * filter chain; what the hook returns afterwards is ignored. `details` shows in Envoy's access
   * logs as the response code details (default `nodevoy_local_reply`).
   */
  sendLocalReply(status: number, body?: string | Uint8Array, headers?: ReplyHeaders, details?: string): void
  /** Logs through Envoy's `dynamic_modules` logger, tagged with the filter name and stream id. */
  log(level: LogLevel, message: string): void
  /** Resumes request processing after a request hook returned `'stop'`. */
  continueRequest(): void
  /** Resumes response processing after a response hook returned `'stop'`. */
  continueResponse(): void
  /** Envoy-wide unique id of this stream within its worker. */
  readonly streamId: number
  /** Index of the Envoy worker thread running this stream. */
  readonly workerIndex: number
  /** How much this stream's data path cost so far: native crossings and bytes copied into JS. */
  dataPathStats(): DataPathStats
}
