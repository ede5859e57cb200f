import type { z } from 'zod'
import type { Callbacks, LogLevel } from './callbacks.js'
import { ConfigError, NodevoyError } from './errors.js'
import type { RequestHeaderMap, ResponseHeaderMap } from './headers.js'
import { FILTER_BRAND, type FilterBrand, type NativeBinding } from './native.js'
import { createDispatcher } from './stream.js'

/**
 * What a hook returns: nothing or `'continue'` to let the stream go on, `'stop'` to hold it until
 * `continueRequest()`/`continueResponse()`. An `async` hook holds the stream until its promise
 * settles, then continues (or fails the request if it rejects).
 */
export type HookResult = void | 'continue' | 'stop'

/** The hooks a filter implements; each is optional. */
export interface FilterHooks {
  /** Request headers arrived. `endOfStream` is true when the request has no body. */
  onRequestHeaders?(headers: RequestHeaderMap, stream: Callbacks, endOfStream: boolean): HookResult | Promise<HookResult>
  /** Response headers arrived (not called for the filter's own local reply). */
  onResponseHeaders?(headers: ResponseHeaderMap, stream: Callbacks, endOfStream: boolean): HookResult | Promise<HookResult>
  /** The stream is done (answered, or reset); last chance to record anything about it. */
  onStreamComplete?(stream: Callbacks): void
  /**
   * The config these hooks were created for is gone (Envoy removed or replaced it, or `nodevoy dev`
   * swapped in a new build): stop timers and close what `create` opened. Module-level state stays.
   */
  onDestroy?(): void
}

/** Context given to `create`: where this instance of the filter runs. */
export interface FilterContext {
  /** Index of the Envoy worker whose Node environment runs this instance (-1: config validation). */
  workerIndex: number
  /** Logs through Envoy's `dynamic_modules` logger, tagged with the filter name. */
  log(level: LogLevel, message: string): void
}

/** A filter's definition, as written by its author. */
export interface FilterDefinition<Schema extends z.ZodType = z.ZodType<unknown>> {
  /** The filter's name; the Envoy config selects it with `"filter": "<name>"`. */
  name: string
  /** A zod schema for the filter's config; Envoy refuses configs it rejects, naming the field. */
  config?: Schema
  /**
   * Creates the filter for a validated config. Called once per Envoy worker (each has its own Node
   * environment), before traffic, and once more to validate the config. Put per-config setup here
   * and per-stream logic in the hooks it returns.
   */
  create(config: z.output<Schema>, context: FilterContext): FilterHooks
}

/** A filter made by {@link defineFilter}: export it (default or named) from the bundle's entry. */
export interface Filter<Schema extends z.ZodType = z.ZodType<unknown>> {
  /** The filter's name, as given to defineFilter. */
  readonly name: string
  /** The definition it was made from (for tools and tests). */
  readonly definition: FilterDefinition<Schema>
  /** @internal */
  readonly [FILTER_BRAND]: FilterBrand
}

const LEVELS: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, critical: 5 }

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
export function defineFilter<Schema extends z.ZodType = z.ZodType<unknown>>(
  definition: FilterDefinition<Schema>,
): Filter<Schema> {
  if (typeof definition?.name !== 'string' || definition.name === '') {
    throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', 'defineFilter: `name` must be a non-empty string')
  }
  if (typeof definition.create !== 'function') {
    throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', `defineFilter(${definition.name}): \`create\` must be a function`)
  }
  const name = definition.name
  const brand: FilterBrand = {
    name,
    instantiate(binding: NativeBinding, configJson: string, _filterId: number) {
      let raw: unknown
      try {
        raw = JSON.parse(configJson)
      } catch {
        throw new ConfigError(name, [{ path: [], message: 'the config is not JSON' }])
      }
      let config: unknown = raw
      if (definition.config) {
        const result = definition.config.safeParse(raw)
        if (!result.success) {
          throw new ConfigError(
            name,
            result.error.issues.map((issue) => ({
              path: issue.path.map((p) => (typeof p === 'number' ? p : String(p))),
              message: issue.message,
            })),
          )
        }
        config = result.data
      }
      const workerIndex = binding.workerIndex()
      const context: FilterContext = {
        workerIndex,
        log: (level, message) => binding.log(LEVELS[level] ?? 2, `[${name}] ${message}`),
      }
      const hooks = definition.create(config as z.output<Schema>, context)
      if (hooks === null || typeof hooks !== 'object') {
        throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', `filter "${name}": create() must return an object of hooks`)
      }
      return createDispatcher(binding, binding.liveness, name, hooks)
    },
  }
  return Object.freeze({ name, definition, [FILTER_BRAND]: brand })
}
