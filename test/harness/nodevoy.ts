// TypeScript filters under test: bundled once per test process, loaded through libnodevoy.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { bundleFilter } from '../../scripts/bundle.js'
import type { ModuleFilterDef } from './config.js'
import { repoRoot } from './paths.js'

let bundleDir: string | undefined
const bundles = new Map<string, Promise<string>>()

/** Bundles a filter entry (path relative to the repository) and returns the bundle's path. */
export function bundled(entry: string): Promise<string> {
  let promise = bundles.get(entry)
  if (!promise) {
    if (!bundleDir) {
      bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-bundles-'))
      const dir = bundleDir
      process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
    }
    const outfile = path.join(bundleDir, entry.replace(/[^A-Za-z0-9]+/g, '_') + '.js')
    promise = bundleFilter(path.join(repoRoot, entry), outfile).then(() => outfile)
    bundles.set(entry, promise)
  }
  return promise
}

export interface NodevoyFilterDef {
  /** http_filters[].name (and filter_name). */
  name: string
  bundle: string
  /** The filter's name in the bundle (defineFilter's name). */
  filter?: string
  config?: unknown
  failOpen?: boolean
  /** The sandbox's limits (filter_config fields). */
  cpuBudgetMs?: number
  settleTimeoutMs?: number
  timeoutStatus?: number
}

/** A DynamicModuleFilter entry running a TypeScript filter through libnodevoy. */
export function nodevoyFilter(def: NodevoyFilterDef): ModuleFilterDef {
  const filterConfig: Record<string, unknown> = { bundle: def.bundle }
  if (def.filter !== undefined) filterConfig.filter = def.filter
  if (def.config !== undefined) filterConfig.config = def.config
  if (def.failOpen !== undefined) filterConfig.failOpen = def.failOpen
  for (const field of ['cpuBudgetMs', 'settleTimeoutMs', 'timeoutStatus'] as const) {
    if (def[field] !== undefined) filterConfig[field] = def[field]
  }
  return { name: def.name, module: 'nodevoy', config: filterConfig }
}
