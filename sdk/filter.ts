import { ConfigError, NodevoyError } from './errors.js'
import type { BodyChunk } from './body.js'
import type { RequestHeaderMap, ResponseHeaderMap, TrailerMap } from './headers.js'
import type { NativeBinding } from './internal/binding.js'
import { FILTER_BRAND_SYMBOL, type FilterBrand } from './internal/brand.js'
import { LogLevelValue } from './internal/contract.js'
import { describe } from './internal/describe.js'
import { createDispatcher, hookMask, withLogContext } from './internal/dispatcher.js'
import { LOG_LEVELS } from './internal/stream-state.js'
import { isStandardSchema, toConfigIssue, type InferConfig, type StandardSchemaV1 } from './schema.js'
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

/** Context given to `create`: where this instance of the filter runs. */
export interface FilterContext {
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
export interface FilterDefinition<Schema extends StandardSchemaV1 = StandardSchemaV1<unknown>> {
  /** The filter's name; the Envoy config selects it with `"filter": "<name>"`. */
  name: string
  /**
   * A schema for the filter's config: any Standard Schema validator (zod 3.24+ or 4, valibot 1+,
   * arktype 2+, ...). Envoy refuses a config it rejects, naming the field. Without a schema, `create`
   * gets the config as parsed from JSON (`{}` when Envoy's config has none).
   */
  config?: Schema
  /**
   * Sets the filter up for a validated config. Called once per Envoy worker (each has its own Node
   * environment), before traffic, and once more to validate the config: put expensive per-config
   * setup here (parsed keys, clients). Returns the hooks — an object shared by the worker's streams,
   * or a class ({@link FilterClass}) instantiated once per stream for per-request state.
   */
  create(config: InferConfig<Schema>, context: FilterContext): FilterHooks | FilterClass
}

/** A filter made by {@link defineFilter}: export it (default or named) from the bundle's entry. */
export interface Filter<Schema extends StandardSchemaV1 = StandardSchemaV1<unknown>> {
  /** The filter's name, as given to defineFilter. */
  readonly name: string
  /** The definition it was made from (for tools and tests). */
  readonly definition: FilterDefinition<Schema>
  /** @internal */
  readonly [FILTER_BRAND_SYMBOL]: FilterBrand
}

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
export function defineFilter<Schema extends StandardSchemaV1 = StandardSchemaV1<unknown>>(
  definition: FilterDefinition<Schema>,
): Filter<Schema> {
  if (typeof definition?.name !== 'string' || definition.name === '') {
    throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', 'defineFilter: `name` must be a non-empty string')
  }
  if (typeof definition.create !== 'function') {
    throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', `defineFilter(${definition.name}): \`create\` must be a function`)
  }
  if (definition.config !== undefined && !isStandardSchema(definition.config)) {
    throw new NodevoyError(
      'NODEVOY_ERR_INVALID_ARGUMENT',
      `defineFilter(${definition.name}): \`config\` must be a Standard Schema (an object with ['~standard'].validate), ` +
        'e.g. a zod (3.24+), valibot (1+) or arktype (2+) schema',
    )
  }
  const name = definition.name
  const brand: FilterBrand = {
    name,
    instantiate(binding: NativeBinding, configJson: string, _filterId: number, settleTimeoutMs: number) {
      let raw: unknown
      try {
        raw = JSON.parse(configJson)
      } catch {
        throw new ConfigError(name, [{ path: [], message: 'the config is not JSON' }])
      }
      let config: unknown = raw
      if (definition.config) {
        const result = definition.config['~standard'].validate(raw)
        if (result instanceof Promise) {
          result.catch(() => {})  // nobody can wait for it; the error below says why
          throw new NodevoyError(
            'NODEVOY_ERR_INVALID_ARGUMENT',
            `filter "${name}": its config schema validates asynchronously (it returned a Promise), but Envoy loads ` +
              'configs synchronously: use a schema without async checks (e.g. no async refine)',
          )
        }
        if (result.issues) throw new ConfigError(name, result.issues.map(toConfigIssue))
        config = result.value
      }
      const workerIndex = binding.workerIndex()
      const destroyCallbacks: (() => void)[] = []
      const context: FilterContext = {
        workerIndex,
        log: (level, message) => binding.log(LOG_LEVELS[level] ?? LogLevelValue.Info, `[${name}] ${message}`),
        onDestroy: (callback) => {
          if (typeof callback !== 'function') {
            throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', 'context.onDestroy: the callback must be a function')
          }
          destroyCallbacks.push(callback)
        },
      }
      const created = withLogContext({ logPrefix: () => `[${name}]` }, () => definition.create(config as InferConfig<Schema>, context)) as FilterHooks | FilterClass
      if (typeof created === 'function') {
        if (!created.prototype || hookMask(created.prototype) === 0) {
          throw new NodevoyError(
            'NODEVOY_ERR_INVALID_ARGUMENT',
            `filter "${name}": create() returned a function that is not a class with hook methods (onRequestHeaders, ...)`,
          )
        }
      } else if (created === null || typeof created !== 'object') {
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
      return createDispatcher(binding, name, created, onDestroy, settleTimeoutMs)
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
