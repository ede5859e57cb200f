// nodevoy config <bundle.js>: prints the http_filters entry for an existing bundle, for people who
// keep their own envoy.yaml.
import fs from 'node:fs'
import path from 'node:path'
import { filterEntry, toYaml } from '../lib/envoy-config.js'
import { CliError } from '../lib/errors.js'
import { inspectBundle } from '../lib/inspect.js'
import { readConfigFile } from '../lib/ui.js'
import { chooseFilter } from './build.js'

export interface ConfigOptions {
  filter?: string
  config?: string
  bundlePath?: string
  failOpen?: boolean
}

export async function printConfig(bundle: string, options: ConfigOptions): Promise<string> {
  if (!fs.existsSync(bundle)) throw new CliError(`no such file: ${bundle} (build it first with \`nodevoy build\`)`)
  const config = options.config === undefined ? undefined : readConfigFile(options.config)
  const chosen = chooseFilter(await inspectBundle(path.resolve(bundle), config), options.filter, bundle)
  if (chosen.configIssues && chosen.configIssues.length > 0) {
    throw new CliError(`the config in ${options.config} is invalid for filter "${chosen.name}":\n  ${chosen.configIssues.join('\n  ')}`)
  }
  const entry = filterEntry({
    filter: chosen.name,
    bundlePath: options.bundlePath ?? path.resolve(bundle),
    config,
    failOpen: options.failOpen,
  })
  return toYaml(
    [entry],
    `Add to your HTTP connection manager's http_filters, before envoy.filters.http.router.\n` +
      `Envoy must find libnodevoy.so through ENVOY_DYNAMIC_MODULES_SEARCH_PATH.`,
  )
}
