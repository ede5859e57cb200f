/**
 * nodevoy/devhost: run a filter for real — bundled, loaded by libnodevoy inside the dev host (a
 * local stand-in for Envoy), in front of your upstream — and send it HTTP requests from your tests.
 * Runs on Linux x64 with the native parts (`npx nodevoy setup` once for libnode).
 *
 * @example
 * import { startFilter } from 'nodevoy/devhost'
 * const filter = await startFilter('src/filter.ts', { config: { realm: 'test' }, upstream: '127.0.0.1:8080' })
 * const res = await fetch(filter.url + '/hello')
 * await filter.stop()
 *
 * @packageDocumentation
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startDev } from './commands/dev.js'
import { API_TERMS } from './lib/errors.js'
import { runtimeInfo } from './lib/runtimes.js'

export { ConfigError, NodevoyError } from './lib/errors.js'
export type { ConfigIssue, ErrorCode } from './lib/errors.js'

/** Options of {@link startFilter}. */
export interface StartFilterOptions {
  /** The filter's config, checked by its schema as Envoy would. Absent: the filter gets `{}`, as in Envoy. */
  config?: unknown
  /** Which filter of the entry, when it exports several. */
  filter?: string
  /** `host:port` (IPv4 or a host name) the requests go to after the filter; default: a direct 200 response. */
  upstream?: string
  /**
   * Clusters for the filter's callouts, `stream.fetch(name, ...)`: name → `host:port` (IPv4 or a host
   * name), e.g. `{ auth: '127.0.0.1:9000' }`.
   */
  clusters?: Record<string, string>
  /** Dev host worker threads (default 1). */
  concurrency?: number
  /** The dev host's log level: trace, debug, info (default), warning, error, critical, off. */
  logLevel?: string
  /** Receives the dev host's log output as it comes (it is also kept for {@link RunningFilter.logs}). */
  onOutput?: (text: string) => void
}

/** A filter running in the dev host. */
export interface RunningFilter {
  /** Base URL of the listener, e.g. http://127.0.0.1:41234. */
  url: string
  /** Base URL of the dev host's admin interface (/stats, /ready, ...). */
  adminUrl: string
  /**
   * The runtime the filter runs on (`node18`, `node20`, `node22`, `node24`): NODEVOY_RUNTIME, else the
   * newest whose libnode runs on this machine, the same one `nodevoy build` deploys by default
   * (README: Runtimes).
   */
  runtime: string
  /** Everything the dev host logged so far: the filter's logs, errors with source-mapped stack traces. */
  logs(): string
  /** Stops the dev host (in-flight requests finish first) and removes its files. */
  stop(): Promise<void>
}

/**
 * Bundles `entry` (TypeScript or JavaScript; a path relative to the working directory, or a file
 * URL such as `new URL('../src/filter.ts', import.meta.url)`), checks it in libnodevoy like
 * `nodevoy build` does, and runs it in the dev host on a free port on 127.0.0.1. Stack traces are
 * source-mapped to the TypeScript sources.
 *
 * Rejects with a {@link NodevoyError} whose `code` says what went wrong: `NODEVOY_ERR_BUILD_FAILED`,
 * `NODEVOY_ERR_NO_FILTER`, `NODEVOY_ERR_LOAD_FAILED`, `NODEVOY_ERR_CREATE_FAILED`,
 * `NODEVOY_ERR_UNSUPPORTED_API`, `NODEVOY_ERR_NATIVE_UNAVAILABLE`, `NODEVOY_ERR_DEVHOST_FAILED`,
 * `NODEVOY_ERR_INVALID_ARGUMENT`, or a {@link ConfigError} (`NODEVOY_ERR_INVALID_CONFIG`) listing
 * every config issue with its path.
 */
export async function startFilter(entry: string | URL, options: StartFilterOptions = {}): Promise<RunningFilter> {
  const file = entry instanceof URL ? fileURLToPath(entry) : path.resolve(entry)
  let output = ''
  const session = startDev(file, {
    port: 0,
    concurrency: options.concurrency ?? 1,
    upstream: options.upstream,
    clusters: Object.entries(options.clusters ?? {}).map(([name, target]) => `${name}=${target}`),
    filter: options.filter,
    configValue: options.config,
    logLevel: options.logLevel,
    watch: false,
    terms: API_TERMS,
    log: () => {},
    onOutput: (text) => {
      output += text
      options.onOutput?.(text)
    },
  })
  await session.ready
  return {
    url: session.url,
    adminUrl: session.adminUrl,
    runtime: runtimeInfo().name,
    logs: () => output,
    stop: () => session.stop(),
  }
}
