// The testing kit's stand-ins for what Envoy and libnodevoy keep outside a stream: a clock tests
// move by hand, the shared store (libnodevoy's semantics: TTL, increment with TTL as a fixed window,
// compare-and-set, LRU bound), and Envoy's stats for the filter's metrics.
import type { Clock } from '../internal/clock.js'
import { MetricKind } from '../internal/contract.js'

interface Timer {
  at: number
  seq: number
  fn: () => void
}

/**
 * A clock that moves only when told: it drives the SDK's own timers (background tasks, hooks'
 * settle timeouts, callout timeouts), the shared store's TTLs and `context.now()`.
 */
export class FakeClock implements Clock {
  #now: number
  #seq = 0
  #timers = new Set<Timer>()

  /** Starts at `start` ms since the epoch (default: the real time now). */
  constructor(start = Date.now()) {
    this.#now = start
  }

  /** The current time, in ms since the epoch. */
  now(): number {
    return this.#now
  }

  /** Calls fn once the clock has moved `ms` further (see advance). */
  setTimeout(fn: () => void, ms: number): unknown {
    const timer: Timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn }
    this.#timers.add(timer)
    return timer
  }

  /** Cancels a timer set with setTimeout. */
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as Timer)
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.#timers.size
  }

  /**
   * Moves time forward by `ms`, firing each timer due on the way at its own time, in order; after
   * each, lets promise continuations and the kit's scheduled events run.
   */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms
    for (;;) {
      let next: Timer | undefined
      for (const timer of this.#timers) {
        if (timer.at <= end && (!next || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq))) next = timer
      }
      if (!next) break
      this.#timers.delete(next)
      this.#now = Math.max(this.#now, next.at)
      next.fn()
      await settle()
    }
    this.#now = end
    await settle()
  }
}

/** Lets promise continuations and already-posted callbacks run (a few macrotask turns). */
export async function settle(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

interface Entry {
  value: string | number
  expires: number
}

/**
 * libnodevoy's shared store, in the test's process: one instance can be given to several test
 * filters to stand for the workers of one proxy. Bounded by entries (least recently used go first).
 */
export class FakeSharedStore {
  readonly #entries = new Map<string, Entry>()
  readonly #clock: Clock
  readonly #maxEntries: number

  constructor(options: { clock?: Clock; maxEntries?: number } = {}) {
    this.#clock = options.clock ?? { now: () => Date.now(), setTimeout: () => undefined, clearTimeout: () => {} }
    this.#maxEntries = options.maxEntries ?? 100000
  }

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key)
    if (!entry) return undefined
    if (entry.expires !== 0 && entry.expires <= this.#clock.now()) {
      this.#entries.delete(key)
      return undefined
    }
    this.#entries.delete(key)  // most recently used last
    this.#entries.set(key, entry)
    return entry
  }

  #store(key: string, value: string | number, ttlMs: number | undefined): void {
    this.#entries.delete(key)
    this.#entries.set(key, { value, expires: ttlMs ? this.#clock.now() + Math.ceil(ttlMs) : 0 })
    while (this.#entries.size > this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value as string)
  }

  /** The value under key, or undefined (also once its TTL passed). */
  get(key: string): string | number | undefined {
    return this.#live(key)?.value
  }

  /** Stores value under key, for ttlMs (undefined or 0: no expiry). */
  set(key: string, value: string | number, ttlMs: number | undefined): void {
    this.#store(key, value, ttlMs)
  }

  /** Adds delta to the number under key (a new key starts from 0 and gets ttlMs); the new value. */
  increment(key: string, delta: number, ttlMs: number | undefined): number {
    const entry = this.#live(key)
    if (!entry) {
      this.#store(key, delta, ttlMs)
      return delta
    }
    if (typeof entry.value !== 'number') {
      const error = new Error('shared.increment: the key holds a string, not a number') as Error & { code: string }
      error.name = 'NodevoyError'
      error.code = 'NODEVOY_ERR_INVALID_STATE'
      throw error
    }
    entry.value += delta
    return entry.value
  }

  /** Stores value when key holds expected (undefined: when it is absent); whether it did. */
  compareAndSet(key: string, expected: string | number | undefined, value: string | number, ttlMs: number | undefined): boolean {
    const entry = this.#live(key)
    const matches = expected === undefined ? entry === undefined : entry !== undefined && entry.value === expected
    if (!matches) return false
    this.#store(key, value, ttlMs)
    return true
  }

  /** Removes key; whether it was there. */
  delete(key: string): boolean {
    return this.#entries.delete(key)
  }

  /** Live entries now. */
  get size(): number {
    for (const key of [...this.#entries.keys()]) this.#live(key)
    return this.#entries.size
  }
}

/** One metric's declaration as libnodevoy receives it. */
export interface DeclaredMetric {
  name: string
  kind: MetricKind
  labels: string[]
  maxSeries: number
}

/** The metrics of one filter config, as Envoy's stats would show them. */
export class FakeMetrics {
  declared: DeclaredMetric[] = []
  readonly #values = new Map<string, number | number[]>()
  readonly #series = new Map<number, Set<string>>()
  readonly #warn: (message: string) => void

  constructor(warn: (message: string) => void) {
    this.#warn = warn
  }

  /** The stat name Envoy gives it (without the metrics namespace): name.label.value... */
  static statName(metric: DeclaredMetric, labels: string[]): string {
    return [metric.name, ...metric.labels.flatMap((label, i) => [label, labels[i]!])].join('.')
  }

  update(index: number, op: number, labels: string[], value: number, filterName: string): void {
    const metric = this.declared[index]
    if (!metric) throw new Error('metric update: no such metric')
    let values = labels
    if (labels.length > 0) {
      const seen = this.#series.get(index) ?? new Set<string>()
      this.#series.set(index, seen)
      const key = labels.join('\0')
      if (!seen.has(key)) {
        if (seen.size < metric.maxSeries) {
          seen.add(key)
        } else {
          if (!seen.has('\0overflow-warned')) {
            this.#warn(
              `nodevoy: filter '${filterName}': metric '${metric.name}' reached its cap of ${metric.maxSeries} label-value combinations; new combinations are recorded with every label set to 'overflow'`,
            )
            seen.add('\0overflow-warned')
          }
          values = labels.map(() => 'overflow')
        }
      }
    }
    const name = FakeMetrics.statName(metric, values)
    if (metric.kind === MetricKind.Histogram) {
      const list = (this.#values.get(name) as number[] | undefined) ?? []
      list.push(value)
      this.#values.set(name, list)
      return
    }
    const current = (this.#values.get(name) as number | undefined) ?? 0
    this.#values.set(name, op === 0 ? current + value : op === 1 ? Math.max(0, current - value) : value)
  }

  /** A counter's or gauge's value, or a histogram's recorded values; undefined when never updated. */
  get(name: string, labels: Record<string, string> = {}): number | number[] | undefined {
    const metric = this.declared.find((m) => m.name === name)
    if (!metric) throw new Error(`no metric named '${name}' is declared (declared: ${this.declared.map((m) => m.name).join(', ') || 'none'})`)
    const values = metric.labels.map((label) => {
      if (!(label in labels)) throw new Error(`metric '${name}' has labels ${metric.labels.join(', ')}: give a value for ${label}`)
      return labels[label]!
    })
    return this.#values.get(FakeMetrics.statName(metric, values))
  }

  /** Every stat, by Envoy's name (without the namespace). */
  snapshot(): Record<string, number | number[]> {
    return Object.fromEntries([...this.#values].map(([k, v]) => [k, Array.isArray(v) ? [...v] : v]))
  }
}
