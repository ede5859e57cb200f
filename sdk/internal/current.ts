// The stream whose hook is running synchronously now (in this copy of the SDK), so work started from
// a hook — a metric update — can go through that stream, and work outside every hook (timers,
// background tasks, code after an await) goes config-level instead.

/**
 * A running hook's stream: its token and the filter config it belongs to (token -1: none). One
 * record, changed in place by the dispatcher (no allocation per hook); read it, do not keep it.
 */
export interface CurrentStream {
  token: number
  configId: number
}

const current: CurrentStream = { token: -1, configId: -1 }

/** The stream of the hook running synchronously now, if any (valid until that hook returns). */
export function currentStream(): CurrentStream | undefined {
  return current.token < 0 ? undefined : current
}

/** The record the dispatcher sets around each hook (saving and restoring the outer values). */
export const currentRecord: CurrentStream = current
