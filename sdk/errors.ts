import type { ERROR_CODES } from './internal/contract.js'

/** Error codes nodevoy uses; every error it throws has one in `code` (see {@link NodevoyError}). */
export type ErrorCode = RuntimeErrorCode | ToolErrorCode

/** Codes of the errors the SDK and libnodevoy raise inside Envoy (the contract's list). */
export type RuntimeErrorCode =
  | 'NODEVOY_ERR_STREAM_GONE'
  | 'NODEVOY_ERR_WRONG_THREAD'
  | 'NODEVOY_ERR_ALREADY_REPLIED'
  | 'NODEVOY_ERR_INVALID_CONFIG'
  | 'NODEVOY_ERR_INVALID_ARGUMENT'
  | 'NODEVOY_ERR_STREAM_COMPLETE'
  | 'NODEVOY_ERR_NOT_ALLOWED'
  | 'NODEVOY_ERR_INVALID_STATE'
  | 'NODEVOY_ERR_CALLOUT_FAILED'
  | 'NODEVOY_ERR_UNSUPPORTED'

/** Codes of the errors the tools raise: `nodevoy build`/`dev`/`config`, and startFilter of `nodevoy/devhost`. */
export type ToolErrorCode =
  | 'NODEVOY_ERR_BUILD_FAILED'
  | 'NODEVOY_ERR_NO_FILTER'
  | 'NODEVOY_ERR_LOAD_FAILED'
  | 'NODEVOY_ERR_CREATE_FAILED'
  | 'NODEVOY_ERR_UNSUPPORTED_API'
  | 'NODEVOY_ERR_NATIVE_UNAVAILABLE'
  | 'NODEVOY_ERR_DEVHOST_FAILED'

// The runtime's codes and the contract's list (what native code throws) must be the same set.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never
const errorCodesMatchContract: Same<RuntimeErrorCode, (typeof ERROR_CODES)[number]> = true
void errorCodesMatchContract

function hasCode(value: unknown, code: ErrorCode): boolean {
  return typeof value === 'object' && value !== null && (value as { code?: unknown }).code === code
}

/**
 * Base class of the errors nodevoy throws. Every one has a `code`:
 * - `NODEVOY_ERR_STREAM_GONE`: the stream has ended ({@link StreamGoneError}).
 * - `NODEVOY_ERR_WRONG_THREAD`: called off the stream's worker thread ({@link WrongThreadError}).
 * - `NODEVOY_ERR_ALREADY_REPLIED`: a second local reply on one stream.
 * - `NODEVOY_ERR_INVALID_CONFIG`: the filter's config does not match its schema ({@link ConfigError}).
 * - `NODEVOY_ERR_INVALID_ARGUMENT`: a bad argument, e.g. a header name that is not a token.
 * - `NODEVOY_ERR_STREAM_COMPLETE`: a change after the response completed (inside onStreamComplete).
 * - `NODEVOY_ERR_NOT_ALLOWED`: a `process` call that would stop or take over the proxy
 *   (`process.kill` of the proxy, `process.abort`, signal listeners, native addons, ...).
 * - `NODEVOY_ERR_INVALID_STATE`: a call the stream's current state does not allow.
 * - `NODEVOY_ERR_CALLOUT_FAILED`: a callout through an Envoy cluster failed ({@link CalloutError}).
 * - `NODEVOY_ERR_UNSUPPORTED`: the running Envoy lacks what the call needs (an older release).
 *
 * The tools' codes (`nodevoy build`/`dev`/`config`, startFilter of `nodevoy/devhost`):
 * - `NODEVOY_ERR_BUILD_FAILED`: bundling failed (a syntax error, an import that does not resolve).
 * - `NODEVOY_ERR_NO_FILTER`: the entry exports no filter, several without a choice, or not the one named.
 * - `NODEVOY_ERR_LOAD_FAILED`: the bundle's top-level code threw in the embedded runtime.
 * - `NODEVOY_ERR_CREATE_FAILED`: the filter's `create()` threw.
 * - `NODEVOY_ERR_UNSUPPORTED_API`: the filter uses a Node builtin (module or export) the embedded runtime lacks.
 * - `NODEVOY_ERR_NATIVE_UNAVAILABLE`: the native parts (libnodevoy, the dev host, libnode) are missing here.
 * - `NODEVOY_ERR_DEVHOST_FAILED`: the dev host did not start or stopped.
 *
 * `instanceof NodevoyError` matches by code, so errors from native code and from another copy of
 * the SDK match too.
 */
export class NodevoyError extends Error {
  /** A stable, machine-readable code. */
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string) {
    super(message)
    this.code = code
    this.name = 'NodevoyError'
  }
  /** Matches any error with a nodevoy code, wherever it was made. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false
    const code = (value as { code?: unknown }).code
    return typeof code === 'string' && code.startsWith('NODEVOY_ERR_')
  }
}

/**
 * Thrown by any call on a stream (its header maps, its {@link Callbacks}) after the stream has ended:
 * the request is over and Envoy's memory for it is gone. Values read before stay valid.
 * `instanceof` also matches the same error raised by another copy of the SDK or by the native side.
 */
export class StreamGoneError extends NodevoyError {
  constructor(message = 'the stream is gone (its request has completed)') {
    super('NODEVOY_ERR_STREAM_GONE', message)
    this.name = 'StreamGoneError'
  }
  /** Matches by `code`, so errors from another copy of the SDK or from native code match too. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasCode(value, 'NODEVOY_ERR_STREAM_GONE')
  }
}

/** Thrown when a stream is used from a thread other than its Envoy worker's. */
export class WrongThreadError extends NodevoyError {
  constructor(message = "called off the stream's Envoy worker thread") {
    super('NODEVOY_ERR_WRONG_THREAD', message)
    this.name = 'WrongThreadError'
  }
  /** Matches by `code`, so errors from another copy of the SDK or from native code match too. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasCode(value, 'NODEVOY_ERR_WRONG_THREAD')
  }
}

/** One problem found in a filter's config. */
export interface ConfigIssue {
  /** Where in the config, e.g. `["credentials", 0, "password"]`. */
  path: (string | number)[]
  /** What is wrong there, as the schema says it. */
  message: string
}

/** The filter's config does not match its schema; Envoy refuses the config. */
export class ConfigError extends NodevoyError {
  /** Every problem found, with its path in the config. */
  readonly issues: ConfigIssue[]
  /**
   * @param detail - appended to the message: where the config came from, or what to do.
   */
  constructor(filterName: string, issues: ConfigIssue[], detail?: string) {
    const lines = issues.map((i) => `${i.path.length ? i.path.join('.') : '(config)'}: ${i.message}`)
    super('NODEVOY_ERR_INVALID_CONFIG', `invalid config for filter "${filterName}": ${lines.join('; ')}${detail ? `. ${detail}` : ''}`)
    this.name = 'ConfigError'
    this.issues = issues
  }
  /** Matches by `code`, so errors from another copy of the SDK or from native code match too. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasCode(value, 'NODEVOY_ERR_INVALID_CONFIG')
  }
}

/**
 * A callout through an Envoy cluster (`stream.fetch`) failed. `reason` says how:
 * - Envoy refused to start it: `cluster_not_found` (no cluster of that name),
 *   `missing_required_headers` (no :method, :path or host), `cannot_create_request`;
 * - it failed after it started: `reset` (a one-shot callout reset), `reset:<why>` (a streamed one,
 *   e.g. `reset:local_reset`), `exceed_response_buffer_limit` (a one-shot response over Envoy's
 *   limit), `no_response`, `invalid_response`.
 *
 * An upstream that cannot be reached or answers too late is not an error: Envoy answers 503 or 504
 * itself, as it does for proxied requests, and that is the callout's response.
 */
export class CalloutError extends NodevoyError {
  /** How the callout failed (see the class description). */
  readonly reason: string
  constructor(reason: string, message: string) {
    super('NODEVOY_ERR_CALLOUT_FAILED', message)
    this.name = 'CalloutError'
    this.reason = reason
  }
  /** Matches by `code`, so errors from another copy of the SDK or from native code match too. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasCode(value, 'NODEVOY_ERR_CALLOUT_FAILED')
  }
}
