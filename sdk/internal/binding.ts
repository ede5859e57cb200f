// The native binding libnodevoy installs in each Node environment (host/module/binding/). Internal:
// the bootstrap hands it to the SDK; filter code never sees it (process._linkedBinding('nodevoy') is
// refused). Every stream call checks its token and thread natively; argument checks that decide what
// reaches Envoy (header bytes, reply contents) are native too, so no path can bypass them.
import type { Clock } from './clock.js'
import type { Action, BINDING_FUNCTIONS, BodyMode, BodyPart, BodyReadState, BodyWrite, Direction, HeaderMapType, HookKind, MetricKind, MetricOp, MetricUpdate } from './contract.js'

/** Stream token: one stream and its generation; stale tokens make calls throw StreamGoneError. */
export type StreamToken = number

/** What the bootstrap gives libnodevoy once (setup). */
export interface RuntimeHooks {
  tickFlag: Int32Array
  processTicks(): void
  load(path: string): unknown
  instantiate(exports: unknown, name: string, configJson: string, filterId: number, settleTimeoutMs: number): FilterInstanceHandle
  /** Checks a per-route config with the filter's routeConfig schema; throws a ConfigError naming the field. */
  validateRoute(exports: unknown, name: string, routeJson: string): void
}

export interface NativeBinding {
  // ---- process: any thread holding the isolate ----
  /** Once, from the bootstrap. */
  setup(runtime: RuntimeHooks): void
  log(level: number, message: string): void
  logEnabled(level: number): boolean
  /** Logs and counts an error outside every hook. */
  uncaught(message: string): void
  /** The worker index of this environment (-1: config validation). */
  workerIndex(): number
  /**
   * Calls `load` with a load's CPU budget (ten times a Node callback's) instead of the running
   * hook's; the hook's budget starts afresh when it returns. For Node's one-time lazy loads.
   */
  withLoadBudget<T>(load: () => T): T

  // ---- stream: the stream's worker thread, while the stream lives ----
  /** All headers of a map as "\0name\x01value" per entry (latin1), in one crossing; "" when empty or absent. */
  getHeaders(token: StreamToken, type: HeaderMapType): string
  /** Checks the name and value (throws NODEVOY_ERR_INVALID_ARGUMENT), then sets; null removes. */
  setHeader(token: StreamToken, type: HeaderMapType, name: string, value: string | null): boolean
  addHeader(token: StreamToken, type: HeaderMapType, name: string, value: string): boolean
  /** Checks everything first, then answers; headers as [name, value, ...]. */
  sendLocalReply(token: StreamToken, status: number, body: string | Uint8Array | null, headers: string[], details: string): void
  /** A hook of `direction` that went Pending settled with `action`. */
  resume(token: StreamToken, direction: Direction, action: Action): void
  /** continueRequest()/continueResponse(): resumes a stopped direction (or one whose hook is still busy). */
  continueStream(token: StreamToken, direction: Direction): void
  /** [streamId, workerIndex]. */
  streamInfo(token: StreamToken): [number, number]
  /** [crossings, bytesCopied] for the stream. */
  counters(token: StreamToken): [number, number]
  /** onStreamComplete must reach the SDK for this stream (a signal to abort, a read to reject). */
  notifyComplete(token: StreamToken): void

  // ---- stream: bodies ----
  /** Asks for a direction's body: whole (Buffer), streamed, or no more (None). */
  bodyMode(token: StreamToken, direction: Direction, mode: BodyMode): BodyReadState
  /** A copy of the chunk of the running body hook, or of the whole held body; throws NODEVOY_ERR_INVALID_STATE when not readable now. */
  readBody(token: StreamToken, direction: Direction, part: BodyPart): Uint8Array
  /** Rewrites the chunk or the whole held body; keeps content-length right, or throws NODEVOY_ERR_INVALID_STATE. */
  writeBody(token: StreamToken, direction: Direction, part: BodyPart, write: BodyWrite, data: string | Uint8Array): void

  // ---- stream: info ----
  /** An Envoy attribute (stream info): type 0 string, 1 integer, 2 boolean; undefined when absent. */
  attribute(token: StreamToken, id: number, type: 0 | 1 | 2): string | number | boolean | undefined
  getMetadata(token: StreamToken, source: number, namespace: string, key: string): string | number | boolean | undefined
  setMetadata(token: StreamToken, namespace: string, key: string, value: string | number | boolean): void
  getFilterState(token: StreamToken, key: string): Uint8Array | undefined
  setFilterState(token: StreamToken, key: string, value: string | Uint8Array): boolean
  clearRouteCache(token: StreamToken): void
  /** The settle timer of the direction's held hook fired: answer with the config's timeout status. */
  timeoutStream(token: StreamToken, direction: Direction): boolean

  // ---- metrics (issue 10) ----
  /** Once per config per environment, from instantiate: [name, kind, labels, maxSeries] rows; throws when they differ from the defined ones. */
  declareMetrics(configId: number, declarations: [string, MetricKind, string[], number][]): void
  /** W: an update through a stream of the metric's config. */
  streamMetric(token: StreamToken, metric: number, op: MetricOp, labels: string[], value: number): MetricUpdate
  /** L: a config-level update (background work); NeedsStream when this Envoy has none for the kind. */
  configMetric(configId: number, metric: number, op: MetricOp, labels: string[], value: number): MetricUpdate

  // ---- per-route config ----
  /** W: [id, routeConfigJson] of the most specific per-route config for this filter, or undefined. */
  routeConfig(token: StreamToken): [number, string] | undefined

  // ---- callouts through Envoy clusters: W ----
  /** Starts a callout; its id. Throws NODEVOY_ERR_CALLOUT_FAILED (with `reason`) when Envoy refuses it. */
  calloutStart(token: StreamToken, cluster: string, headers: string[], body: string | Uint8Array | null, endStream: boolean, timeoutMs: number, buffered: boolean): number
  calloutSend(token: StreamToken, id: number, data: string | Uint8Array, endStream: boolean): boolean
  calloutTrailers(token: StreamToken, id: number, trailers: string[]): boolean
  /** Gives up on a callout: no more events; a streamed one is reset in Envoy when `reset`. */
  calloutReset(token: StreamToken, id: number, reset: boolean): void
  /** The queued events of the stream's callouts: [id, CalloutEventType, ...fields, ...]. */
  calloutEvents(token: StreamToken): unknown[]

  // ---- shared state across workers: L ----
  sharedGet(key: string): string | number | undefined
  sharedSet(key: string, value: string | number, ttlMs: number | undefined): void
  sharedIncrement(key: string, delta: number, ttlMs: number | undefined): number
  sharedCompareAndSet(key: string, expected: string | number | undefined, value: string | number, ttlMs: number | undefined): boolean
  sharedDelete(key: string): boolean

  /** Live generation of each stream slot (0 = free): the SDK checks liveness without a crossing. */
  readonly liveness: Uint32Array
  /** The clock for the SDK's timers: absent in libnodevoy (Node's), the fake one of the testing kit. */
  readonly clock?: Clock
}

/** What a filter definition hands libnodevoy for one config in one environment. */
export interface FilterInstanceHandle {
  /** Bit (1 << kind) set for each hook the filter implements. */
  hooks: number
  /**
   * Runs a hook of the stream whose token is generation × SLOTS + slot (passed apart: two small
   * integers cost V8 no allocation, where a large token would be a heap number on every call).
   */
  dispatch(kind: HookKind, slot: number, generation: number, endOfStream: boolean): Action
  /** The config is gone: calls the filter's onDestroy. */
  dispose(): void
}

// The declared functions and the contract's list must be the same set (a compile-time check).
type Functions = Exclude<keyof NativeBinding, 'liveness' | 'clock'>
type Listed = (typeof BINDING_FUNCTIONS)[number]
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never
export const bindingMatchesContract: Same<Functions, Listed> = true
