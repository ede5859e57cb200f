// The stream whose hook is running synchronously now (in this copy of the SDK), so work started from
// a hook — a metric update — can go through that stream, and work outside every hook (timers,
// background tasks, code after an await) goes config-level instead.

/** A running hook's stream: its token and the filter config it belongs to. */
export interface CurrentStream {
  token: number
  configId: number
}

let current: CurrentStream | undefined

/** The stream of the hook running synchronously now, if any. */
export function currentStream(): CurrentStream | undefined {
  return current
}

/** Makes `stream` current while fn runs (nested hooks restore the outer one). */
export function setCurrentStream(stream: CurrentStream | undefined): CurrentStream | undefined {
  const previous = current
  current = stream
  return previous
}
