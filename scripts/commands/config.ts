// nodevoy config <bundle.js>: prints the http_filters entry for an existing bundle, for people who
// keep their own envoy.yaml. The bundle is inspected in libnodevoy first (lib/inspect.ts).
import fs from 'node:fs'
import path from 'node:path'
import { filterEntry, toYaml } from '../lib/envoy-config.js'
import { CLI_TERMS, toolError } from '../lib/errors.js'
import { inspectFilter } from '../lib/inspect.js'
import { readConfigFile } from '../lib/ui.js'

export interface ConfigOptions {
  filter?: string
  config?: string
  bundlePath?: string
  failOpen?: boolean
}

export async function printConfig(bundle: string, options: ConfigOptions): Promise<string> {
  if (!fs.existsSync(bundle)) throw toolError('NODEVOY_ERR_INVALID_ARGUMENT', `no such file: ${bundle} (build it first with \`nodevoy build\`)`)
  const config = options.config === undefined ? undefined : readConfigFile(options.config)
  const chosen = await inspectFilter({
    bundle: path.resolve(bundle),
    filter: options.filter,
    config,
    configSource: options.config,
    terms: CLI_TERMS,
  })
  for (const warning of chosen.warnings) process.stderr.write(`warning: ${warning}\n`)
  const entry = filterEntry({
    filter: chosen.name,
    bundlePath: options.bundlePath ?? path.resolve(bundle),
    config,
    failOpen: options.failOpen,
  })
  return toYaml(
    [entry],
    `Add to your HTTP connection manager's http_filters, before envoy.filters.http.router.\n` +
      `Envoy must find libnodevoy.so through ENVOY_DYNAMIC_MODULES_SEARCH_PATH.\n` +
      `The filter's config is JSON in a StringValue, so it reaches the filter unchanged.`,
  )
}
