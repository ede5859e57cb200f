// The clock the SDK's own timers use (settle timeouts, background work, context.now()): Node's, or
// the one a binding brings — the testing kit's fake clock, so tests control time.

/** Timers and the current time (the clock of the SDK's own timers). */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
  /** Calls fn after ms; `unref`: the timer does not keep the event loop alive. */
  setTimeout(fn: () => void, ms: number, unref?: boolean): unknown
  /** Cancels a timer setTimeout returned. */
  clearTimeout(handle: unknown): void
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms, unref) => {
    const timer = setTimeout(fn, ms)
    if (unref) timer.unref()
    return timer
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}

/** The clock of a binding (`binding.clock`, set by the testing kit), else Node's. */
export function clockOf(binding: { readonly clock?: Clock }): Clock {
  return binding.clock ?? realClock
}
