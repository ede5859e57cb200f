// Background work of a filter config: tasks that run on a worker's Node environment without traffic
// (refresh keys every minute, flush a batch), stopped when the config goes away.
import { NodevoyError } from './errors.js'
import { realClock, type Clock } from './internal/clock.js'
import { describe } from './internal/describe.js'

/** A task started with `context.every` or `context.after`. */
export interface BackgroundTask {
  /** Stops the task: no further runs (a run in progress finishes; its signal aborts). */
  stop(): void
  /** Whether more runs can come. */
  readonly active: boolean
}

/** What a background task receives: a signal that aborts when the task is stopped or its config goes away. */
export type BackgroundFunction = (signal: AbortSignal) => void | Promise<void>

/** Options of `context.every`. */
export interface EveryOptions {
  /** Run once right away too (default false). */
  runNow?: boolean
}

/** The background work of one config in one environment. */
export class Background {
  readonly #controller = new AbortController()
  readonly #tasks = new Set<{ stop(): void }>()
  readonly #report: (message: string) => void
  readonly #timers: Clock
  readonly #enabled: boolean

  /**
   * report: where a failed run is logged and counted. enabled: false in the validation environment,
   * where create() runs only to check the config (tasks are then never started).
   */
  constructor(report: (message: string) => void, enabled: boolean, timers: Clock = realClock) {
    this.#report = report
    this.#enabled = enabled
    this.#timers = timers
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /** Runs `task` every `intervalMs` ms; a run still in progress when the next is due skips that one. */
  every(intervalMs: number, task: BackgroundFunction, options: EveryOptions = {}): BackgroundTask {
    checkDelay('every', intervalMs, 1)
    return this.#start(task, intervalMs, true, options.runNow === true)
  }

  /** Runs `task` once after `delayMs` ms. */
  after(delayMs: number, task: BackgroundFunction): BackgroundTask {
    checkDelay('after', delayMs, 0)
    return this.#start(task, delayMs, false, false)
  }

  /** The config is gone: every task stops, the signal aborts. */
  dispose(): void {
    for (const task of [...this.#tasks]) task.stop()
    this.#controller.abort(new DOMException('the filter config is gone', 'AbortError'))
  }

  #start(task: BackgroundFunction, ms: number, repeat: boolean, runNow: boolean): BackgroundTask {
    if (typeof task !== 'function') throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', 'background task: the task must be a function')
    const controller = new AbortController()
    let timer: unknown
    let active = this.#enabled && !this.#controller.signal.aborted
    let running = false
    const entry = {
      stop: () => {
        if (!active) return
        active = false
        if (timer !== undefined) this.#timers.clearTimeout(timer)
        this.#tasks.delete(entry)
        controller.abort(new DOMException('the background task was stopped', 'AbortError'))
      },
    }
    const schedule = (): void => {
      if (active) timer = this.#timers.setTimeout(tick, ms)
    }
    const run = (): void => {
      if (running) return  // the previous run is still going: skip this one
      running = true
      const done = (): void => {
        running = false
      }
      try {
        const result = task(controller.signal)
        if (result && typeof (result as Promise<void>).then === 'function') {
          ;(result as Promise<void>).then(done, (error: unknown) => {
            done()
            if (!controller.signal.aborted) this.#report(`background task failed: ${describe(error)}`)
          })
          return
        }
      } catch (error) {
        this.#report(`background task failed: ${describe(error)}`)
      }
      done()
    }
    const tick = (): void => {
      timer = undefined
      if (!active) return
      if (!repeat) {
        active = false
        this.#tasks.delete(entry)
      }
      run()
      if (repeat) schedule()
    }
    if (active) {
      this.#tasks.add(entry)
      schedule()
      if (runNow) run()
    }
    return {
      stop: entry.stop,
      get active() {
        return active
      },
    }
  }
}

function checkDelay(operation: string, ms: unknown, min: number): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < min || ms > 2147483647) {
    throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', `context.${operation}: the delay must be a number of milliseconds ${min}..2147483647`)
  }
}
