/**
 * nodevoy/testing: unit-test a filter in plain Node — no Envoy, no dev host, no native code. The
 * filter's real SDK code (its dispatcher, stream, bodies, metrics) runs against a model of what
 * Envoy and libnodevoy do with it: headers, body frames and trailers in both directions, continue
 * and stop, whole-body reads and rewrites with content-length kept right, local replies, failures
 * answered 500 (or open), dynamic metadata and filter state, metrics with labels, logs, the shared
 * store, callouts to fake clusters, per-route config, and a clock tests move by hand.
 *
 * Its semantics are held to the proxy's: one scenario table (test/scenarios) runs through this kit
 * and through real HTTP on the dev host, and both must give the same answers.
 *
 * The filter runs on the Node that runs the tests (`process.version`), not on the runtime libnodevoy
 * embeds in Envoy; `startFilter` from `nodevoy/devhost` runs it there (its `runtime` names which).
 *
 * @example
 * import { testFilter } from 'nodevoy/testing'
 * import filter from '../src/filter.js'
 *
 * const t = testFilter(filter, { config: { realm: 'test' } })
 * const res = await t.request({ path: '/admin', headers: { authorization: 'Basic ...' } })
 * assert.equal(res.status, 401)
 * assert.equal(t.metric('requests', { decision: 'deny' }), 1)
 *
 * @packageDocumentation
 */
import { ConfigError, NodevoyError } from '../errors.js'
import type { FilterInstanceHandle } from '../internal/binding.js'
import { Action, FILTER_BRAND, HookKind, SLOTS } from '../internal/contract.js'
import { findFilter } from '../internal/find-filter.js'
import { KitBinding, KitCallouts, type ClusterHandler, type ClusterRequest, type StreamEntry } from './binding.js'
import { FakeClock, FakeMetrics, FakeSharedStore, settle } from './fakes.js'
import { BodyBuffer, EnvoyStream, HeaderList, ModuleStream, toBytes, type UpstreamAnswer, type UpstreamFn, type UpstreamRequest } from './model.js'

export { FakeClock, FakeSharedStore }
export type { Clock } from '../internal/clock.js'
export type { ClusterHandler, ClusterRequest, UpstreamAnswer, UpstreamFn, UpstreamRequest }

/** Header pairs or an object of them. */
export type TestHeaders = Record<string, string> | Iterable<readonly [string, string]>

/** Options of {@link testFilter}: the filter's config and the world around it. */
export interface TestFilterOptions {
  /** The filter's config (checked by its schema, as Envoy's config would be; a bad one throws ConfigError). */
  config?: unknown
  /** Answer failures of the filter by letting the request go on instead of 500 (the config's failOpen). */
  failOpen?: boolean
  /** How long a hook's promise (or a 'stop') may hold the stream (default 30000 ms, as libnodevoy). */
  settleTimeoutMs?: number
  /** The status of a stream answered for a settle timeout (default 504). */
  timeoutStatus?: number
  /** Envoy's buffer limit for held bodies (default 1 MiB): more is answered 413 (request) or 500. */
  bufferLimit?: number
  /** The worker this instance stands for (`context.workerIndex`, `stream.workerIndex`; default 0). */
  workerIndex?: number
  /** Envoy clusters for `stream.fetch`, by name: each answers a callout's request. */
  clusters?: Record<string, ClusterHandler>
  /** The clock (default: a new FakeClock at the real time now). */
  clock?: FakeClock
  /** The shared store (default: a new one; give several test filters one to stand for workers). */
  shared?: FakeSharedStore
  /** The lowest level logged (default trace: everything). */
  logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'critical'
}

/** One request through the filter. */
export interface TestRequest {
  /** Default GET (POST when there is a body). */
  method?: string
  /** Default `/`. */
  path?: string
  /** Default `example.com`. */
  authority?: string
  /** Request headers besides :method, :path and :authority. */
  headers?: TestHeaders
  /** The request body: one body frame per array element. */
  body?: string | Uint8Array | (string | Uint8Array)[]
  /** Request trailers (they end the request instead of an empty last frame). */
  trailers?: TestHeaders
  /**
   * What the upstream answers (after the filter, the router): a function of the request that reached
   * it, or an answer. Default: 200 with no body.
   */
  upstream?: UpstreamFn | UpstreamAnswer
  /** The route's per-route config for this filter (checked by the filter's routeConfig schema). */
  routeConfig?: unknown
  /** The route's metadata (filter_metadata), by namespace. */
  routeMetadata?: Record<string, Record<string, string | number | boolean>>
  /** The client's address (default 127.0.0.1:50000). */
  remoteAddress?: string
  /** Resets the request from the client's side once this resolves (a client that goes away). */
  disconnect?: Promise<unknown>
}

/** What came back, and what happened on the way. */
export interface TestResponse {
  /** The response status (0 when the stream was reset before any response). */
  status: number
  /** Response headers (several values of a name joined with ", "). */
  headers: Record<string, string>
  /** Response headers in order, names lower-cased. */
  headerList: [string, string][]
  /** The response body decoded as UTF-8. */
  body: string
  /** The response body's bytes. */
  bytes: Uint8Array
  /** Response trailers (empty when there were none). */
  trailers: Record<string, string>
  /** The stream was reset instead of answered completely. */
  reset: boolean
  /** Envoy's response code details of a local reply or reset (e.g. `nodevoy_filter_error`); "" otherwise. */
  details: string
  /** What reached the upstream, or undefined when the request never got there. */
  upstream: UpstreamRequest | undefined
  /** Dynamic metadata the stream ended with, by namespace. */
  metadata: Record<string, Record<string, string | number | boolean>>
  /** Filter state the stream ended with (bytes as text). */
  filterState: Record<string, string>
}

/** A log line the filter (or the kit, standing in for libnodevoy) wrote. */
export interface LogEntry {
  /** Envoy's log level of the line. */
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'critical'
  /** The line as Envoy would log it (console output is tagged with filter and stream). */
  message: string
}

const LEVELS: LogEntry['level'][] = ['trace', 'debug', 'info', 'warn', 'error', 'critical']

/** A filter under test: send requests through it, read its metrics and logs. */
export interface TestFilter {
  /** Sends one request through the filter and resolves when the stream is over (answered or reset). */
  request(request?: TestRequest): Promise<TestResponse>
  /**
   * A metric's value by its declared name and labels: a number for counters and gauges, the recorded
   * values for histograms, undefined when never updated.
   */
  metric(name: string, labels?: Record<string, string>): number | number[] | undefined
  /** Every metric, by Envoy's stat name without the namespace (`requests.decision.allow`). */
  metrics(): Record<string, number | number[]>
  /** Everything logged so far. */
  readonly logs: LogEntry[]
  /** The clock of the SDK's timers and `context.now()`: move it with `advance`. */
  readonly clock: FakeClock
  /** The shared store the filter sees. */
  readonly shared: FakeSharedStore
  /** The config is gone (as Envoy removing it): the filter's onDestroy runs, its background work stops. */
  destroy(): void
}

let nextConfigId = 1

function pairsOf(headers: TestHeaders | undefined): [string, string][] {
  if (headers === undefined) return []
  const iterable = Symbol.iterator in Object(headers) ? (headers as Iterable<readonly [string, string]>) : Object.entries(headers)
  return [...iterable].map(([k, v]) => [String(k), String(v)])
}

function brandOf(filter: unknown, name: string | undefined): { instantiate: Function; validateRouteConfig(json: string): void; name: string } {
  const branded = findFilter(filter, name ?? '') as Record<symbol, unknown>
  return branded[Symbol.for(FILTER_BRAND)] as never
}

/**
 * Sets a filter up for tests: validates its config as Envoy would (once in a "validation"
 * environment, then for the worker), with its metrics defined.
 *
 * @param filter A `defineFilter` result, or a module's exports holding one (give `filterName` when several).
 */
export function testFilter(filter: unknown, options: TestFilterOptions & { filterName?: string } = {}): TestFilter {
  const brand = brandOf(filter, options.filterName)
  const clock = options.clock ?? new FakeClock()
  const shared = options.shared ?? new FakeSharedStore({ clock })
  const logs: LogEntry[] = []
  const configId = nextConfigId++
  const metrics = new FakeMetrics((message) => logs.push({ level: 'warn', message }))
  const logLevel = LEVELS.indexOf(options.logLevel ?? 'trace')
  const binding = (workerIndex: number) =>
    new KitBinding({
      workerIndex,
      clock,
      shared,
      metricsOf: (id) => (id === configId ? { metrics, name: brand.name } : undefined),
      clusters: options.clusters ?? {},
      timeoutStatus: options.timeoutStatus ?? 504,
      log: (level, message) => logs.push({ level: LEVELS[level] ?? 'info', message }),
      logLevel,
    })
  const configJson = JSON.stringify(options.config ?? {})
  const settleTimeoutMs = options.settleTimeoutMs ?? 30000
  // As libnodevoy: validated (and its metrics defined) in the validation environment first.
  const validation = binding(-1)
  const checked = brand.instantiate(validation, configJson, configId, settleTimeoutMs) as FilterInstanceHandle
  checked.dispose()
  const workerIndex = options.workerIndex ?? 0
  const worker = binding(workerIndex)
  const instance = brand.instantiate(worker, configJson, configId, settleTimeoutMs) as FilterInstanceHandle
  let streams = 0
  let routeConfigIds = 0
  const routeConfigs = new Map<string, number>()
  let destroyed = false

  const request = async (req: TestRequest = {}): Promise<TestResponse> => {
    if (destroyed) throw new NodevoyError('NODEVOY_ERR_INVALID_STATE', 'testFilter: the config was destroyed')
    let routeConfig: [number, string] | undefined
    if (req.routeConfig !== undefined) {
      const json = JSON.stringify({ config: req.routeConfig })
      const routeJson = JSON.stringify(req.routeConfig)
      brand.validateRouteConfig(routeJson)  // refused as the route would be (a ConfigError naming the field)
      let id = routeConfigs.get(json)
      if (id === undefined) routeConfigs.set(json, (id = ++routeConfigIds))
      routeConfig = [id, routeJson]
    }
    const frames = req.body === undefined ? [] : Array.isArray(req.body) ? req.body.map(toBytes) : [toBytes(req.body)]
    const trailers = pairsOf(req.trailers)
    const upstream: UpstreamFn = typeof req.upstream === 'function' ? req.upstream : () => (req.upstream as UpstreamAnswer | undefined) ?? { status: 200 }
    const post = (fn: () => void): void => {
      setImmediate(fn)
    }
    const envoy = new EnvoyStream({ bufferLimit: options.bufferLimit ?? 1024 * 1024, upstream, post })
    const token = worker.allocate()
    const module = new ModuleStream(envoy, {
      token,
      id: ++streams,
      configId,
      hooks: instance.hooks,
      dispatch: (kind: HookKind, t: number, endOfStream: boolean) => {
        try {
          return instance.dispatch(kind, t % SLOTS, Math.floor(t / SLOTS), endOfStream)
        } catch {
          return Action.Error
        }
      },
      failOpen: options.failOpen === true,
      countError: () => {},
      onGone: () => worker.release(token),
      log: (level, message) => logs.push({ level: LEVELS[level] ?? 'info', message }),
    })
    const [remoteHost, remotePort] = (req.remoteAddress ?? '127.0.0.1:50000').split(':')
    const entry: StreamEntry = {
      module,
      envoy,
      workerIndex,
      routeConfig,
      routeMetadata: req.routeMetadata ?? {},
      dynamicMetadata: new Map(),
      filterState: new Map(),
      attributes: { sourceAddress: remoteHost!, sourcePort: Number(remotePort ?? 50000), destinationAddress: '127.0.0.1', destinationPort: 10000, connectionId: streams },
      callouts: new KitCallouts(),
      post,
      announceCallouts: () => {
        if (module.alive) instance.dispatch(HookKind.Callout, token % SLOTS, Math.floor(token / SLOTS), false)
      },
      routeCacheCleared: 0,
    }
    worker.register(token, entry)
    envoy.attach(module)
    // The client's request, HTTP/1-style: headers, each body frame, then the end (an empty frame, or trailers).
    const headers = new HeaderList()
    const method = req.method ?? (frames.length > 0 ? 'POST' : 'GET')
    headers.set(':method', method)
    headers.set(':path', req.path ?? '/')
    headers.set(':authority', req.authority ?? 'example.com')
    for (const [k, v] of pairsOf(req.headers)) headers.add(k, v)
    const total = frames.reduce((n, f) => n + f.length, 0)
    if (total > 0 && !headers.get('content-length') && trailers.length === 0) headers.set('content-length', String(total))
    if (trailers.length > 0 && !headers.get('transfer-encoding')) headers.set('transfer-encoding', 'chunked')
    const bodiless = total === 0 && trailers.length === 0
    envoy.decodeHeaders(headers, bodiless)
    if (!bodiless) {
      for (const frame of frames) {
        if (envoy.ended || frame.length === 0) continue
        await settle(1)
        const data = new BodyBuffer()
        data.append(frame)
        envoy.decodeData(data, false)
      }
      await settle(1)
      if (trailers.length > 0) envoy.decodeTrailers(HeaderList.from(trailers))
      else envoy.decodeData(new BodyBuffer(), true)
    }
    req.disconnect?.then(() => envoy.downstreamReset())
    // As libnodevoy's keepalive handle: the event loop stays alive while the stream waits, so unref'd
    // timers (AbortSignal.timeout) still fire for it.
    const keepalive = setInterval(() => {}, 1 << 30)
    try {
      await envoy.finished
    } finally {
      clearInterval(keepalive)
    }
    const d = envoy.downstream
    const headerList = d.headers?.entries.map(([k, v]) => [k, v] as [string, string]) ?? []
    const joinedHeaders: Record<string, string> = {}
    for (const [k, v] of headerList) if (!k.startsWith(':')) joinedHeaders[k] = k in joinedHeaders ? `${joinedHeaders[k]}, ${v}` : v
    const bytes = d.body.bytes()
    return {
      status: Number(d.headers?.get(':status') ?? 0),
      headers: joinedHeaders,
      headerList: headerList.filter(([k]) => !k.startsWith(':')),
      body: new TextDecoder().decode(bytes),
      bytes,
      trailers: Object.fromEntries(d.trailers?.entries ?? []),
      reset: d.reset && !d.complete,
      details: envoy.details,
      upstream: envoy.upstreamRequest,
      metadata: Object.fromEntries([...entry.dynamicMetadata].map(([ns, m]) => [ns, Object.fromEntries(m)])),
      filterState: Object.fromEntries([...entry.filterState].map(([k, v]) => [k, new TextDecoder().decode(v)])),
    }
  }

  return {
    request,
    metric: (name, labels) => metrics.get(name, labels),
    metrics: () => metrics.snapshot(),
    logs,
    clock,
    shared,
    destroy() {
      if (destroyed) return
      destroyed = true
      instance.dispose()
    },
  }
}

/** Thrown for a config its schema refuses (re-exported for `instanceof` in tests). */
export { ConfigError }