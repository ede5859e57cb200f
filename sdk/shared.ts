// State shared by every Envoy worker: a process-wide store in native memory (libnodevoy's shared
// store), so counters and caches hold across workers — each worker runs its own Node environment,
// where module-level variables are per worker.
import { NodevoyError } from './errors.js'
import type { NativeBinding } from './internal/binding.js'

/** A value in the shared store. */
export type SharedValue = string | number

/** Options of a write. */
export interface SharedWriteOptions {
  /** Time to live in milliseconds; the entry disappears after it (default: no expiry). */
  ttlMs?: number
}

/**
 * The process-wide shared store: every worker's filters see the same entries, and each operation is
 * atomic. Synchronous and short (one lock of one shard for one lookup), so it can be used on every
 * request. Bounded: least recently used entries are dropped when it is full (100000 entries and
 * 64 MiB by default; set NODEVOY_SHARED_MAX_ENTRIES / NODEVOY_SHARED_MAX_BYTES in the proxy's
 * environment). It outlives config reloads. Keys are global to the proxy: prefix them with your
 * filter's name.
 *
 * @example
 * // A fixed-window rate limit of 100 requests per minute per client, exact across workers.
 * const window = Math.floor(Date.now() / 60000)
 * const count = context.shared.increment(`ratelimit:${client}:${window}`, 1, { ttlMs: 60000 })
 * if (count > 100) stream.sendLocalReply(429, 'slow down')
 */
export interface SharedState {
  /** The value under `key`, or undefined. */
  get(key: string): SharedValue | undefined
  /** Stores `value` under `key`. */
  set(key: string, value: SharedValue, options?: SharedWriteOptions): void
  /**
   * Adds `delta` (default 1) to the number under `key` and returns the new value. A missing (or
   * expired) key starts from 0 and gets `ttlMs`; an existing key keeps its expiry (a fixed window).
   * Throws when the key holds a string.
   */
  increment(key: string, delta?: number, options?: SharedWriteOptions): number
  /**
   * Stores `value` only if `key` holds `expected` now (`undefined`: only if the key is absent), and
   * tells whether it did. The building block for anything increment does not cover.
   */
  compareAndSet(key: string, expected: SharedValue | undefined, value: SharedValue, options?: SharedWriteOptions): boolean
  /** Removes `key`; tells whether it was there. */
  delete(key: string): boolean
}

function ttl(options: SharedWriteOptions | undefined, operation: string): number | undefined {
  if (options === undefined) return undefined
  if (options === null || typeof options !== 'object') {
    throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', `shared.${operation}: options must be an object like { ttlMs: 60000 }`)
  }
  return options.ttlMs
}

/** The shared store over libnodevoy's binding (or a fake one). */
export function createSharedState(binding: Pick<NativeBinding, 'sharedGet' | 'sharedSet' | 'sharedIncrement' | 'sharedCompareAndSet' | 'sharedDelete'>): SharedState {
  return Object.freeze({
    get: (key: string) => binding.sharedGet(key),
    set: (key: string, value: SharedValue, options?: SharedWriteOptions) => binding.sharedSet(key, value, ttl(options, 'set')),
    increment: (key: string, delta = 1, options?: SharedWriteOptions) => binding.sharedIncrement(key, delta, ttl(options, 'increment')),
    compareAndSet: (key: string, expected: SharedValue | undefined, value: SharedValue, options?: SharedWriteOptions) =>
      binding.sharedCompareAndSet(key, expected, value, ttl(options, 'compareAndSet')),
    delete: (key: string) => binding.sharedDelete(key),
  })
}
