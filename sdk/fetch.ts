// Callouts through Envoy clusters: `stream.fetch(cluster, path, init)`, fetch-like, over the module
// ABI's start_http_stream (streamed both ways; the default) or http_callout (one-shot, `buffered`),
// so the request gets Envoy's load balancing, TLS, circuit breaking and stats for that cluster.

/** Headers for a callout: a `Headers`, an object, or `[name, value]` pairs. */
export type CalloutHeaders = Headers | Record<string, string> | Iterable<readonly [string, string]>

/** A callout's request body. Streams and async iterables are sent chunk by chunk as they produce. */
export type CalloutBody = string | Uint8Array | ArrayBuffer | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string>

/** How to make a callout (a subset of fetch's RequestInit, plus Envoy's own options). */
export interface CalloutInit {
  /** Default `GET`, or `POST` when there is a body. */
  method?: string
  /**
   * Request headers. `:authority` defaults to the host of a full URL given as the path, else to the
   * cluster's name; set `host` (or `:authority`) to override.
   */
  headers?: CalloutHeaders
  /** The request body (none for GET by default). */
  body?: CalloutBody | null
  /** Trailers sent after the body (streamed callouts only). */
  trailers?: CalloutHeaders
  /** Aborts the callout (besides the stream's end, which always does). */
  signal?: AbortSignal
  /**
   * Envoy's timeout for the whole callout, in milliseconds (default none: it still ends with the
   * stream). When it fires before the response starts, Envoy answers 504 `upstream request timeout`.
   */
  timeoutMs?: number
  /**
   * One-shot callout (Envoy's http_callout): the whole response arrives at once, after Envoy has
   * buffered it (fewer crossings for small responses). A one-shot callout cannot be cancelled in
   * Envoy: aborting it only drops its result.
   */
  buffered?: boolean
}

/** A callout response's headers (and trailers), read like fetch's `Headers`. */
export interface ResponseHeaders extends Iterable<[name: string, value: string]> {
  /** The values of `name` joined with `, ` (as fetch does), or null. */
  get(name: string): string | null
  /** Every set-cookie value, one each. */
  getSetCookie(): string[]
  /** Whether `name` has a value. */
  has(name: string): boolean
  /** Calls `callback` for each value, in order. */
  forEach(callback: (value: string, name: string, headers: ResponseHeaders) => void): void
  /** `[name, value]` pairs in Envoy's order, names lower-cased. */
  entries(): IterableIterator<[string, string]>
  /** The names, in order (repeated for several values). */
  keys(): IterableIterator<string>
  /** The values, in order. */
  values(): IterableIterator<string>
}

/**
 * A callout's response, read like fetch's `Response`: `status`, `ok`, `headers`, and the body once
 * (`text()`, `json()`, `bytes()`, `arrayBuffer()`, or the `body` stream), plus the trailers.
 * (nodevoy's own class: Node's fetch classes cost over 100 ms of CPU on first use, more than a
 * hook's budget.)
 */
export interface CalloutResponse {
  /** The response status (Envoy's 503 or 504 when the upstream could not answer). */
  readonly status: number
  /** Whether the status is 2xx. */
  readonly ok: boolean
  /** The response headers. */
  readonly headers: ResponseHeaders
  /** The body as a ReadableStream (made on first read), or null when the response has none. */
  readonly body: ReadableStream<Uint8Array> | null
  /** Whether the body was read (it can be read once). */
  readonly bodyUsed: boolean
  /** The response trailers, once the body has ended (empty when there were none). */
  readonly trailers: Promise<ResponseHeaders>
  /** The whole body (waits for its end). */
  bytes(): Promise<Uint8Array>
  /** The whole body as an ArrayBuffer. */
  arrayBuffer(): Promise<ArrayBuffer>
  /** The whole body decoded as UTF-8. */
  text(): Promise<string>
  /** The whole body parsed as JSON. */
  json(): Promise<unknown>
}
