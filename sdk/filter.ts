import { Background, type BackgroundFunction, type BackgroundTask, type EveryOptions } from './background.js'
import { ConfigError, NodevoyError } from './errors.js'
import type { BodyChunk } from './body.js'
import type { RequestHeaderMap, ResponseHeaderMap, TrailerMap } from './headers.js'
import type { NativeBinding } from './internal/binding.js'
import { FILTER_BRAND_SYMBOL, type FilterBrand } from './internal/brand.js'
import { LogLevelValue } from './internal/contract.js'
import { describe } from './internal/describe.js'
import { createDispatcher, hookMask, withLogContext } from './internal/dispatcher.js'
import { clockOf } from './internal/clock.js'
import { LOG_LEVELS, StreamState } from './internal/stream-state.js'
import { checkMetricsSpec, createMetrics, declarationRows, type Metrics, type MetricsSpec } from './metrics.js'
import { isStandardSchema, toConfigIssue, type InferConfig, type StandardSchemaV1 } from './schema.js'
import { createSharedState, type SharedState } from './shared.js'
import type { LogLevel, Stream } from './stream.js'

/**
 * What a hook returns: nothing or `'continue'` to let the stream go on, `'stop'` to hold it until
 * `continueRequest()`/`continueResponse()`. An `async` hook holds the stream until its promise
 * settles, then continues (or fails the request if it rejects).
 */
export type HookResult = void | 'continue' | 'stop'

/**
 * The hooks a filter implements; each is optional. They are methods of the object `create` returns
 * (one object shared by every stream of a worker: keep per-request state off it) or of the class it
 * returns (one instance per stream: per-request state belongs in its fields).
 */
export interface FilterHooks {
  /** Request headers arrived. `endOfStream` is true when the request has no body. */
  onRequestHeaders?(headers: RequestHeaderMap, stream: Stream, endOfStream: boolean): HookResult | Promise<HookResult>
  /**
   * A piece of the request body arrived: the frame, or everything that arrived while the request
   * was held by this filter. Called for every byte once, in order; `endOfStream` with the last one.
   */
  onRequestBody?(chunk: BodyChunk, stream: Stream, endOfStream: boolean): HookResult | Promise<HookResult>
  /** The request's trailers arrived (they end the request). */
  onRequestTrailers?(trailers: TrailerMap, stream: Stream): HookResult | Promise<HookResult>
  /** Response headers arrived (not called for the filter's own local reply). */
  onResponseHeaders?(headers: ResponseHeaderMap, stream: Stream, endOfStream: boolean): HookResult | Promise<HookResult>
  /** A piece of the response body arrived (as {@link FilterHooks.onRequestBody}). */
  onResponseBody?(chunk: BodyChunk, stream: Stream, endOfStream: boolean): HookResult | Promise<HookResult>
  /** The response's trailers arrived. */
  onResponseTrailers?(trailers: TrailerMap, stream: Stream): HookResult | Promise<HookResult>
  /**
   * The stream is done (answered, or reset); last chance to record anything about it. Headers can be
   * read; changes, replies and continues throw.
   */
  onStreamComplete?(stream: Stream): void | Promise<void>
  /**
   * Shared hooks only: the config these hooks were created for is gone (Envoy removed or replaced
   * it, or `nodevoy dev` swapped in a new build). Same as registering with `context.onDestroy`.
   */
  onDestroy?(): void
}

/**
 * A filter with per-stream state: a class whose instances are made once per stream — when its
 * request headers arrive, so the constructor can read them and a start time taken there is the
 * stream's — and whose methods are the hooks. It receives the stream's handle.
 *
 * @example
 * create: (config) => class {
 *   start = performance.now()
 *   onResponseHeaders(headers: ResponseHeaderMap) {
 *     headers.set('x-latency-ms', (performance.now() - this.start).toFixed(1))
 *   }
 * }
 */
export type FilterClass = new (stream: Stream) => Omit<FilterHooks, 'onDestroy'>

/**
 * Context given to `create`: where this instance of the filter runs, and what it can use besides
 * the stream — its metrics, the state shared by every worker, its per-route config, background work.
 */
export interface FilterContext<RouteView = unknown, M extends MetricsSpec = MetricsSpec> {
  /** Index of the Envoy worker whose Node environment runs this instance (-1: config validation). */
  workerIndex: number
  /** Logs through Envoy's `dynamic_modules` logger, tagged with the filter name. */
  log(level: LogLevel, message: string): void
  /**
   * Registers a callback for when this config is gone (Envoy removed or replaced it, or
   * `nodevoy dev` swapped in a new build): stop timers and close what `create` opened.
   * Module-level state stays.
   */
  onDestroy(callback: () => void): void
  /**
   * The metrics declared in `defineFilter({ metrics })`, by name. Updated from a hook they go through
   * the stream; from anywhere else (background work, code after an `await`) config-level — on Envoy
   * v1.38, which has no config-level updates, those wait for the config's next stream.
   * An undeclared name, missing or extra labels, or a label value outside its declared list throws.
   */
  readonly metrics: Metrics<M>
  /** State shared by every worker of the proxy (counters, caches), with atomic operations. */
  readonly shared: SharedState
  /**
   * The config for this stream's route: `mergeRouteConfig(config, route)` of the filter's config and
   * the most specific per-route config Envoy has for this filter on the stream's route (route, else
   * virtual host; undefined when it has none). Computed once per route config in each worker.
   */
  routeConfig(stream: Stream): RouteView
  /**
   * Runs `task` every `intervalMs` milliseconds on this worker's Node environment, with or without
   * traffic, until the config goes away (or `stop()`). A run still in progress when the next is due
   * skips that one; a failed run is logged and counted (nodevoy_uncaught_errors). Not started while
   * the config is only being validated (workerIndex -1).
   */
  every(intervalMs: number, task: BackgroundFunction, options?: EveryOptions): BackgroundTask
  /** Runs `task` once after `delayMs` milliseconds (as {@link FilterContext.every}). */
  after(delayMs: number, task: BackgroundFunction): BackgroundTask
  /** Aborted when this config goes away: pass it to work started outside hooks (`fetch`, streams). */
  readonly signal: AbortSignal
  /**
   * Milliseconds since the epoch: `Date.now()` in Envoy, the fake clock in the testing kit (use it
   * for time windows, so tests can move time).
   */
  now(): number
}

// Every hook name FilterHooks declares (a hook added there must be added here: the Record type
// says so). A name create() returns that looks like a hook (on + capital) but is none of these, such
// as the typo `onResponseHeader`, gets a warning; other names are the filter's own helpers.
const HOOK_NAMES: Record<keyof FilterHooks, true> = {
  onRequestHeaders: true,
  onRequestBody: true,
  onRequestTrailers: true,
  onResponseHeaders: true,
  onResponseBody: true,
  onResponseTrailers: true,
  onStreamComplete: true,
  onDestroy: true,
}

/** A filter's definition, as written by its author. */
export interface FilterDefinition<
  Schema extends StandardSchemaV1 = StandardSchemaV1<unknown>,
  RouteSchema extends StandardSchemaV1 = StandardSchemaV1<unknown>,
  RouteView = InferConfig<Schema>,
  M extends MetricsSpec = MetricsSpec,
> {
  /** The filter's name; the Envoy config selects it with `"filter": "<name>"`. */
  name: string
  /**
   * A schema for the filter's config: any Standard Schema validator (zod 3.24+ or 4, valibot 1+,
   * arktype 2+, ...). Envoy refuses a config it rejects, naming the field. Without a schema, `create`
   * gets the config as parsed from JSON (`{}` when Envoy's config has none).
   */
  config?: Schema
  /**
   * A schema (any Standard Schema, as `config`) for the filter's per-route config: Envoy's
   * typed_per_filter_config on a route or virtual host, `filter_config: {"config": {...}}`. Envoy
   * refuses a route config it rejects when the route loads, naming the field. Without it, per-route
   * configs are refused.
   */
  routeConfig?: RouteSchema
  /**
   * Merges the filter's config with a route's config into what `context.routeConfig(stream)` gives;
   * `route` is undefined for routes without a per-route config. Computed once per route config in
   * each worker. Default: `{ ...config, ...route }` for objects, the config alone without a route config.
   */
  mergeRouteConfig?(config: InferConfig<Schema>, route: InferConfig<RouteSchema> | undefined): RouteView
  /**
   * The filter's metrics, by name: counters, gauges and histograms, with labels. Envoy defines them
   * when it creates the filter's config; they appear in `/stats` as `<metrics_namespace>.<name>`
   * (default namespace `dynamicmodulescustom`).
   *
   * @example
   * metrics: {
   *   requests: { type: 'counter', labels: { decision: ['allow', 'deny'] } },
   *   latency_ms: { type: 'histogram' },
   * }
   */
  metrics?: M
  /**
   * Sets the filter up for a validated config. Called once per Envoy worker (each has its own Node
   * environment), before traffic, and once more to validate the config: put expensive per-config
   * setup here (parsed keys, clients). Returns the hooks — an object shared by the worker's streams,
   * or a class ({@link FilterClass}) instantiated once per stream for per-request state.
   */
  create(config: InferConfig<Schema>, context: FilterContext<RouteView, M>): FilterHooks | FilterClass
}

/** A filter made by {@link defineFilter}: export it (default or named) from the bundle's entry. */
export interface Filter<
  Schema extends StandardSchemaV1 = StandardSchemaV1<unknown>,
  RouteSchema extends StandardSchemaV1 = StandardSchemaV1<unknown>,
  RouteView = InferConfig<Schema>,
  M extends MetricsSpec = MetricsSpec,
> {
  /** The filter's name, as given to defineFilter. */
  readonly name: string
  /** The definition it was made from (for tools and tests). */
  readonly definition: FilterDefinition<Schema, RouteSchema, RouteView, M>
  /** @internal */
  readonly [FILTER_BRAND_SYMBOL]: FilterBrand
}

/** Validates `raw` with a Standard Schema, synchronously; throws a ConfigError with paths under `prefix`. */
function validateWith(name: string, schema: StandardSchemaV1, raw: unknown, prefix: (string | number)[], what: string): unknown {
  const result = schema['~standard'].validate(raw)
  if (result instanceof Promise) {
    result.catch(() => {})  // nobody can wait for it; the error below says why
    throw new NodevoyError(
      'NODEVOY_ERR_INVALID_ARGUMENT',
      `filter "${name}": its ${what} schema validates asynchronously (it returned a Promise), but Envoy loads ` +
        'configs synchronously: use a schema without async checks (e.g. no async refine)',
    )
  }
  if (result.issues) {
    throw new ConfigError(
      name,
      result.issues.map((issue) => {
        const converted = toConfigIssue(issue)
        return { ...converted, path: [...prefix, ...converted.path] }
      }),
    )
  }
  return result.value
}

function defaultMerge(config: unknown, route: unknown): unknown {
  if (route === undefined) return config
  const isObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v)
  return isObject(config) && isObject(route) ? { ...(config as object), ...(route as object) } : route
}

/** Per-route views kept per config per environment (route configs come and go with route tables). */
const ROUTE_VIEWS_KEPT = 64

/**
 * Defines an Envoy HTTP filter written in TypeScript.
 *
 * @example
 * export default defineFilter({
 *   name: 'add-header',
 *   config: z.object({ value: z.string() }),
 *   create: (config) => ({
 *     onResponseHeaders(headers) {
 *       headers.set('x-added', config.value)
 *     },
 *   }),
 * })
 */
export function defineFilter<
  Schema extends StandardSchemaV1 = StandardSchemaV1<unknown>,
  RouteSchema extends StandardSchemaV1 = StandardSchemaV1<unknown>,
  RouteView = InferConfig<Schema>,
  const M extends MetricsSpec = {},
>(definition: FilterDefinition<Schema, RouteSchema, RouteView, M>): Filter<Schema, RouteSchema, RouteView, M> {
  if (typeof definition?.name !== 'string' || definition.name === '') {
    throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', 'defineFilter: `name` must be a non-empty string')
  }
  if (typeof definition.create !== 'function') {
    throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', `defineFilter(${definition.name}): \`create\` must be a function`)
  }
  for (const field of ['config', 'routeConfig'] as const) {
    if (definition[field] !== undefined && !isStandardSchema(definition[field])) {
      throw new NodevoyError(
        'NODEVOY_ERR_INVALID_ARGUMENT',
        `defineFilter(${definition.name}): \`${field}\` must be a Standard Schema (an object with ['~standard'].validate), ` +
          'e.g. a zod (3.24+), valibot (1+) or arktype (2+) schema',
      )
    }
  }
  if (definition.mergeRouteConfig !== undefined && typeof definition.mergeRouteConfig !== 'function') {
    throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', `defineFilter(${definition.name}): \`mergeRouteConfig\` must be a function`)
  }
  const name = definition.name
  const declarations = checkMetricsSpec(name, definition.metrics)
  // A route's config (JSON) checked and parsed by the routeConfig schema; throws a ConfigError.
  const parseRoute = (routeJson: string): unknown => {
    let raw: unknown
    try {
      raw = JSON.parse(routeJson)
    } catch {
      throw new ConfigError(name, [{ path: ['filter_config', 'config'], message: 'the per-route config is not JSON' }])
    }
    if (!definition.routeConfig) {
      throw new ConfigError(name, [
        { path: ['filter_config', 'config'], message: `filter "${name}" takes no per-route config (its definition has no routeConfig schema)` },
      ])
    }
    return validateWith(name, definition.routeConfig, raw, ['filter_config', 'config'], 'routeConfig')
  }
  const brand: FilterBrand = {
    name,
    validateRouteConfig(routeJson: string) {
      parseRoute(routeJson)
    },
    instantiate(binding: NativeBinding, configJson: string, filterId: number, settleTimeoutMs: number) {
      let raw: unknown
      try {
        raw = JSON.parse(configJson)
      } catch {
        throw new ConfigError(name, [{ path: [], message: 'the config is not JSON' }])
      }
      const config: unknown = definition.config ? validateWith(name, definition.config, raw, [], 'config') : raw
      // Defined in Envoy now when this is the config's validation (inside config_new), else checked.
      binding.declareMetrics(filterId, declarationRows(declarations))
      const metrics = createMetrics(binding, name, filterId, declarations)
      const workerIndex = binding.workerIndex()
      const destroyCallbacks: (() => void)[] = []
      const clock = clockOf(binding)
      const background = new Background((message) => binding.uncaught(`nodevoy: filter '${name}' ${message}`), workerIndex >= 0, clock)
      destroyCallbacks.push(() => background.dispose())
      // Per-route views, by route config id (ids are never reused), newest last.
      const routeViews = new Map<number, unknown>()
      const merge = (definition.mergeRouteConfig ?? defaultMerge) as (c: unknown, r: unknown) => unknown
      const context: FilterContext<RouteView, M> = {
        workerIndex,
        log: (level, message) => binding.log(LOG_LEVELS[level] ?? LogLevelValue.Info, `[${name}] ${message}`),
        onDestroy: (callback) => {
          if (typeof callback !== 'function') {
            throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', 'context.onDestroy: the callback must be a function')
          }
          destroyCallbacks.push(callback)
        },
        metrics: metrics.handles as Metrics<M>,
        shared: createSharedState(binding),
        routeConfig: (stream: Stream): RouteView => {
          if (!(stream instanceof StreamState)) {
            throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', 'context.routeConfig: pass the stream a hook received')
          }
          const link = StreamState.link(stream)
          link.check()
          // Route config ids start at 1; 0 stands for "this route has none".
          const [id, routeJson] = binding.routeConfig(link.token) ?? [0, undefined]
          if (routeViews.has(id)) return routeViews.get(id) as RouteView
          const view = merge(config, routeJson === undefined ? undefined : parseRoute(routeJson))
          routeViews.set(id, view)
          if (routeViews.size > ROUTE_VIEWS_KEPT) routeViews.delete(routeViews.keys().next().value as number)
          return view as RouteView
        },
        every: (intervalMs, task, options) => background.every(intervalMs, task, options),
        after: (delayMs, task) => background.after(delayMs, task),
        get signal() {
          return background.signal
        },
        now: () => clock.now(),
      }
      const created = withLogContext({ logPrefix: () => `[${name}]` }, () => definition.create(config as InferConfig<Schema>, context)) as FilterHooks | FilterClass
      if (typeof created === 'function') {
        if (!created.prototype || hookMask(created.prototype) === 0) {
          background.dispose()
          throw new NodevoyError(
            'NODEVOY_ERR_INVALID_ARGUMENT',
            `filter "${name}": create() returned a function that is not a class with hook methods (onRequestHeaders, ...)`,
          )
        }
      } else if (created === null || typeof created !== 'object') {
        background.dispose()
        throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', `filter "${name}": create() must return an object of hooks or a class`)
      } else if (typeof created.onDestroy === 'function') {
        destroyCallbacks.push(() => created.onDestroy!())
      }
      const names =
        typeof created === 'function'
          ? Object.getOwnPropertyNames(created.prototype).filter((key) => key !== 'constructor')
          : Object.keys(created)
      for (const key of names) {
        if (/^on[A-Z]/.test(key) && !Object.hasOwn(HOOK_NAMES, key)) binding.log(LogLevelValue.Warn, `[${name}] ${unknownHookMessage(key)}`)
      }
      const onDestroy = () => {
        for (const callback of destroyCallbacks) {
          try {
            callback()
          } catch (error) {
            binding.log(LogLevelValue.Error, `nodevoy: filter '${name}' onDestroy threw: ${describe(error)}`)
          }
        }
      }
      return createDispatcher(binding, name, created, { onDestroy, configId: filterId, beforeHook: declarations.length > 0 ? metrics.flushPending : undefined, settleTimeoutMs })
    },
  }
  return Object.freeze({ name, definition, [FILTER_BRAND_SYMBOL]: brand })
}

/** The warning for a name create() returned that is not a hook, with the closest hook name. */
function unknownHookMessage(key: string): string {
  let best: string | undefined
  let bestDistance = Infinity
  for (const hook of Object.keys(HOOK_NAMES)) {
    const d = editDistance(key.toLowerCase(), hook.toLowerCase())
    if (d < bestDistance) [best, bestDistance] = [hook, d]
  }
  const guess = best !== undefined && bestDistance <= 3 ? ` (did you mean "${best}"?)` : ''
  return `create() returned "${key}", which is not a hook nodevoy calls${guess}; hooks: ${Object.keys(HOOK_NAMES).join(', ')}`
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}
