/**
 * nodevoy/testing: run a filter for real — bundled, loaded by libnodevoy inside the dev host, in
 * front of your upstream — and send it HTTP requests from your tests.
 *
 * @example
 * import { startFilter } from 'nodevoy/testing'
 * const filter = await startFilter('src/filter.ts', { config: { realm: 'test' }, upstream: '127.0.0.1:8080' })
 * const res = await fetch(filter.url + '/hello')
 * await filter.stop()
 *
 * @packageDocumentation
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { dev } from './commands/dev.js'

/** Options of {@link startFilter}. */
export interface StartFilterOptions {
  /** The filter's config (validated by its schema, as Envoy would). */
  config?: unknown
  /** Which filter of the entry, when it exports several. */
  filter?: string
  /** `host:port` the requests go to after the filter; default: a direct 200 response. */
  upstream?: string
  /** Dev host worker threads (default 1). */
  concurrency?: number
  /** Receives the dev host's log output (default: dropped). */
  onOutput?: (text: string) => void
}

/** A filter running in the dev host. */
export interface RunningFilter {
  /** Base URL of the listener, e.g. http://127.0.0.1:41234. */
  url: string
  /** Base URL of the dev host's admin interface (/stats, /ready, ...). */
  adminUrl: string
  /** Stops the dev host (in-flight requests finish first) and removes its files. */
  stop(): Promise<void>
}

/** Bundles `entry` and runs it in the dev host on a free port on 127.0.0.1. */
export async function startFilter(entry: string, options: StartFilterOptions = {}): Promise<RunningFilter> {
  let configFile: string | undefined
  let configDir: string | undefined
  if (options.config !== undefined) {
    configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-test-config-'))
    configFile = path.join(configDir, 'config.json')
    fs.writeFileSync(configFile, JSON.stringify(options.config))
  }
  const session = await dev(entry, {
    port: 0,
    concurrency: options.concurrency ?? 1,
    upstream: options.upstream,
    filter: options.filter,
    config: configFile,
    watch: false,
    log: () => {},
    onOutput: options.onOutput ?? (() => {}),
  })
  return {
    url: session.url,
    adminUrl: session.adminUrl,
    async stop() {
      await session.stop()
      if (configDir) fs.rmSync(configDir, { recursive: true, force: true })
    },
  }
}
