// What the SDK (TypeScript, bundled into every filter) and libnodevoy (C++) must agree on, declared
// once, here. scripts/gen-contract.ts writes host/module/contract.gen.h from this file (and the
// environment bootstrap, sdk/internal/bootstrap.ts, into host/module/bootstrap.gen.h);
// test/unit/contract.test.ts fails when either generated file is stale.
//
// Glossary of the stream nouns:
// - stream token: a number naming one stream in one Node environment (generation × SLOTS + slot);
//   stale tokens make every call throw StreamGoneError.
// - stream id: Envoy-wide id of the stream within its worker, for logs (`Stream.id`).
// - Stream (C++, host/module/stream.h): libnodevoy's owner of a stream's state, one per Envoy filter.
// - StreamState (sdk/internal/stream-state.ts): the SDK's per-stream state; the public `Stream`
//   handle filters receive is its facade.

/** Bumped whenever anything below changes meaning: libnodevoy refuses bundles of another protocol. */
export const PROTOCOL_VERSION = 3

/** Symbol.for(FILTER_BRAND) marks a defineFilter() result in a bundle's exports. */
export const FILTER_BRAND = `nodevoy.filter.v${PROTOCOL_VERSION}`

/** Concurrent streams per worker environment; a stream token is generation × SLOTS + slot. */
export const SLOTS = 65536

/**
 * Symbol.for(LOG_CONTEXT) on globalThis: a cell `{ current }`, made by whoever needs it first. While a
 * hook (or create()) runs, `current` is an object whose logPrefix() tags console output with the
 * filter and stream ("[name][stream 7]"); the bootstrap's console reads it. Shared through a global
 * because each bundle carries its own copy of the SDK; a cell, so a hook sets a plain property
 * rather than a property of the global object.
 */
export const LOG_CONTEXT = 'nodevoy.logContextCell'

/**
 * Symbol.for(LOAD_BUNDLE) on globalThis: the bootstrap's bundle loader, `(file) => exports` (as
 * libnodevoy loads bundles, source maps included), for nodevoy's inspection filter.
 */
export const LOAD_BUNDLE = 'nodevoy.loadBundle'

/** Hook kinds. Bit (1 << kind) of a filter's hook mask says it implements that hook. */
export const enum HookKind {
  RequestHeaders = 1,
  RequestBody = 2,
  RequestTrailers = 3,
  ResponseHeaders = 4,
  ResponseBody = 5,
  ResponseTrailers = 6,
  StreamComplete = 7,
  /** Internal event (not a user hook): a buffered read of the request body can complete. */
  RequestBodyEnd = 8,
  /** Internal event: a buffered read of the response body can complete. */
  ResponseBodyEnd = 9,
  /** Internal event: the stream's callouts have events waiting (calloutEvents takes them). */
  Callout = 10,
}

/** Which way a hook's data flows. Each direction has its own state on both sides. */
export const enum Direction {
  None = 0,
  Request = 1,
  Response = 2,
}

/** The family decides which Envoy status values a hook returns. */
export const enum HookFamily {
  Headers = 0,
  Body = 1,
  Trailers = 2,
  Complete = 3,
  /** Internal events delivered to the SDK, never to filter code. */
  BodyEnd = 4,
  /** Internal events about work the stream started (callouts); no direction, no status. */
  Event = 5,
}

/** One row per hook: everything both sides need to know about it. */
export interface HookRow {
  kind: HookKind
  name: string
  direction: Direction
  family: HookFamily
}

export const HOOKS: readonly HookRow[] = [
  { kind: HookKind.RequestHeaders, name: 'onRequestHeaders', direction: Direction.Request, family: HookFamily.Headers },
  { kind: HookKind.RequestBody, name: 'onRequestBody', direction: Direction.Request, family: HookFamily.Body },
  { kind: HookKind.RequestTrailers, name: 'onRequestTrailers', direction: Direction.Request, family: HookFamily.Trailers },
  { kind: HookKind.ResponseHeaders, name: 'onResponseHeaders', direction: Direction.Response, family: HookFamily.Headers },
  { kind: HookKind.ResponseBody, name: 'onResponseBody', direction: Direction.Response, family: HookFamily.Body },
  { kind: HookKind.ResponseTrailers, name: 'onResponseTrailers', direction: Direction.Response, family: HookFamily.Trailers },
  { kind: HookKind.StreamComplete, name: 'onStreamComplete', direction: Direction.None, family: HookFamily.Complete },
  { kind: HookKind.RequestBodyEnd, name: '(request body end)', direction: Direction.Request, family: HookFamily.BodyEnd },
  { kind: HookKind.ResponseBodyEnd, name: '(response body end)', direction: Direction.Response, family: HookFamily.BodyEnd },
  { kind: HookKind.Callout, name: '(callout event)', direction: Direction.None, family: HookFamily.Event },
]

/** How the SDK wants a direction's body (bodyMode). */
export const enum BodyMode {
  /** Not read: frames pass through with no crossing. */
  None = 0,
  /** A whole-body read is waiting: hold every frame (Envoy's buffer limit applies: 413/500). */
  Buffer = 1,
  /** A streaming reader: every frame is delivered to the SDK, which holds the direction for backpressure. */
  Stream = 2,
}

/** What bodyMode() says about a body read. */
export const enum BodyReadState {
  /** The end will be delivered later (a BodyEnd event). */
  Later = 0,
  /** The whole body is held right now: read it. */
  Complete = 1,
  /** Some of the body already went on to later filters: too late to hold it whole. */
  TooLate = -1,
}

/** Which bytes a body read or write addresses. */
export const enum BodyPart {
  /** The chunk of the body hook running now (unseen buffered bytes, then the received frame). */
  Chunk = 0,
  /** Everything held so far (buffered, then the received frame inside a body hook). */
  Whole = 1,
}

/** Body writes. */
export const enum BodyWrite {
  Replace = 0,
  Append = 1,
  Prepend = 2,
}

/**
 * What a hook's dispatch returns to libnodevoy (or resume() delivers later): the SDK decides the
 * action, libnodevoy maps it to the Envoy status of the hook's family. (Once the filter answered
 * with sendLocalReply, libnodevoy ignores the action: the reply ends the filter chain.)
 */
export const enum Action {
  /** Go on: this filter is done with the direction for now. */
  Continue = 0,
  /** Hold the direction until continueRequest()/continueResponse() ('stop'). */
  Stop = 1,
  /** The hook's promise is pending: hold the direction; resume() follows. */
  Pending = -1,
  /** The hook failed (already logged): fail the stream (500, reset, or go on with failOpen). */
  Error = -2,
}

/** Envoy's header map types (the ABI's http_header_type). */
export const enum HeaderMapType {
  Request = 0,
  RequestTrailers = 1,
  Response = 2,
  ResponseTrailers = 3,
}

/**
 * The string getHeaders returns: per entry, Entry + name + Value + value (latin1). Names are tokens
 * and values have no NUL, so a name is found by searching for Entry + name + Value.
 */
export const enum HeaderMapSeparator {
  Entry = 0,
  Value = 1,
}

/** Envoy's log levels (the ABI's log_level). */
export const enum LogLevelValue {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5,
  Off = 6,
}

/** Scheduler event ids libnodevoy commits (on_http_filter_scheduled). */
export const enum SchedulerEvent {
  /** A hook settled or the filter continued: apply the directions' mailboxes. */
  Resume = 1,
  /** The environment's event loop has work. */
  Pump = 2,
}

/** The fields of a nodevoy filter_config (everything else is refused, naming the field). */
export const FILTER_CONFIG_FIELDS = ['bundle', 'filter', 'config', 'failOpen', 'cpuBudgetMs', 'settleTimeoutMs', 'timeoutStatus'] as const

/** Error codes. Native code throws errors with these codes; the SDK's classes match them by code. */
export const ERROR_CODES = [
  'NODEVOY_ERR_STREAM_GONE',
  'NODEVOY_ERR_WRONG_THREAD',
  'NODEVOY_ERR_ALREADY_REPLIED',
  'NODEVOY_ERR_INVALID_CONFIG',
  'NODEVOY_ERR_INVALID_ARGUMENT',
  'NODEVOY_ERR_STREAM_COMPLETE',
  'NODEVOY_ERR_NOT_ALLOWED',
  'NODEVOY_ERR_INVALID_STATE',
  'NODEVOY_ERR_CALLOUT_FAILED',
  'NODEVOY_ERR_UNSUPPORTED',
] as const

/** Metric kinds (the ABI's define_counter / define_gauge / define_histogram). */
export const enum MetricKind {
  Counter = 0,
  Gauge = 1,
  Histogram = 2,
}

/** Metric updates. */
export const enum MetricOp {
  /** Counter or gauge: add. */
  Add = 0,
  /** Gauge: subtract. */
  Subtract = 1,
  /** Gauge: set. */
  Set = 2,
  /** Histogram: record a value. */
  Record = 3,
}

/** What a metric update returned (streamMetric / configMetric). */
export const enum MetricUpdate {
  Done = 0,
  /** This Envoy has no config-level update for the metric's kind (v1.38): apply it through a stream. */
  NeedsStream = 1,
}

/** Callout events (calloutEvents): [id, type, ...fields]. */
export const enum CalloutEventType {
  /** [id, type, status, headers "k\0v\0..."] (response headers; end of stream when no body follows: see EndStream). */
  Headers = 0,
  /** [id, type, bytes: Uint8Array, endOfStream: boolean] */
  Data = 1,
  /** [id, type, trailers "k\0v\0..."] */
  Trailers = 2,
  /** [id, type]: the response is complete. */
  Complete = 3,
  /** [id, type, reason: string]: the callout failed (reset, or a buffered response over its limit). */
  Failed = 4,
}

/**
 * The globals Node backs with undici (its fetch), which it loads on first use: ~100 ms of CPU and
 * ~4 MB per environment (Node 18). Those absent from a Node version are skipped.
 */
export const UNDICI_GLOBALS = ['fetch', 'Headers', 'Request', 'Response', 'FormData', 'MessageEvent', 'WebSocket', 'EventSource', 'CloseEvent'] as const

/**
 * The first line of a bundle written by nodevoy's bundler, followed by `used` or `unused`: whether
 * its code refers to any of UNDICI_GLOBALS. libnodevoy loads undici when it loads a bundle, off the
 * request path, unless the bundle says `unused` (bundles from other tools have no such line).
 */
export const BUNDLE_UNDICI_MARKER = '// nodevoy: undici-globals='

/**
 * The functions libnodevoy's binding registers, by name. host/module/binding registers exactly
 * these (a missing one does not compile); sdk/internal/binding.ts's NativeBinding must declare
 * exactly these (a type check in that file).
 */
export const BINDING_FUNCTIONS = [
  // process
  'setup',
  'log',
  'logEnabled',
  'uncaught',
  'workerIndex',
  'withLoadBudget',
  // stream: headers
  'getHeaders',
  'setHeader',
  'addHeader',
  // stream: control
  'sendLocalReply',
  'resume',
  'continueStream',
  'streamInfo',
  'counters',
  'notifyComplete',
  // stream: bodies
  'bodyMode',
  'readBody',
  'writeBody',
  // stream: info
  'attribute',
  'getMetadata',
  'setMetadata',
  'getFilterState',
  'setFilterState',
  'clearRouteCache',
  'timeoutStream',
  // metrics (issue 10)
  'declareMetrics',
  'streamMetric',
  'configMetric',
  // per-route config
  'routeConfig',
  // callouts through Envoy clusters: the stream's worker
  'calloutStart',
  'calloutSend',
  'calloutTrailers',
  'calloutReset',
  'calloutEvents',
  // shared state across workers: any thread holding the isolate
  'sharedGet',
  'sharedSet',
  'sharedIncrement',
  'sharedCompareAndSet',
  'sharedDelete',
] as const
