// nodevoy build <entry.ts> [--out dir]: the bundle, libnodevoy.so, envoy.yaml and a Dockerfile.
import fs from 'node:fs'
import path from 'node:path'
import { bundleFilter } from '../bundle.js'
import { bootstrap, toYaml } from '../lib/envoy-config.js'
import { CliError } from '../lib/errors.js'
import { inspectBundle, type FilterInfo } from '../lib/inspect.js'
import { libnodevoyPath } from '../lib/paths.js'
import { progress, readConfigFile } from '../lib/ui.js'

export interface BuildOptions {
  out: string
  filter?: string
  config?: string
  bundlePath: string
  failOpen?: boolean
  quiet?: boolean
}

export interface BuildResult {
  outDir: string
  bundle: string
  filters: FilterInfo[]
  chosen: FilterInfo
  files: string[]
}

/** Picks the filter to configure: the named one, or the only one. */
export function chooseFilter(filters: FilterInfo[], wanted: string | undefined, bundle: string): FilterInfo {
  if (filters.length === 0) {
    throw new CliError(`${bundle} exports no filter: export the result of defineFilter() (default or named export)`)
  }
  for (const f of filters) {
    if (f.problems.length > 0) throw new CliError(`filter "${f.name}" is not well-formed: ${f.problems.join('; ')}`)
  }
  if (wanted !== undefined) {
    const found = filters.find((f) => f.name === wanted)
    if (!found) throw new CliError(`no filter named "${wanted}"; the bundle has ${filters.map((f) => `"${f.name}"`).join(', ')}`)
    return found
  }
  if (filters.length > 1) {
    throw new CliError(`the bundle has several filters (${filters.map((f) => `"${f.name}"`).join(', ')}); choose one with --filter`)
  }
  return filters[0]!
}

const DOCKERFILE = (filter: string) => `# Runs the nodevoy filter "${filter}" in Envoy v1.40 on Debian 12, with Node 18's libnode.
# Written by \`nodevoy build\`. Build and run:
#   docker build -t my-envoy . && docker run --rm -p 10000:10000 my-envoy
FROM envoyproxy/envoy:v1.40.0 AS envoy

FROM debian:12-slim
# libnode108 is Debian 12's Node 18 embedding library; it brings the builtins libnode loads at run time.
RUN apt-get update \\
 && apt-get install -y --no-install-recommends libnode108 ca-certificates \\
 && rm -rf /var/lib/apt/lists/*
COPY --from=envoy /usr/local/bin/envoy /usr/local/bin/envoy
COPY libnodevoy.so bundle.js envoy.yaml /etc/nodevoy/
ENV ENVOY_DYNAMIC_MODULES_SEARCH_PATH=/etc/nodevoy
EXPOSE 10000
CMD ["envoy", "-c", "/etc/nodevoy/envoy.yaml"]
`

export async function build(entry: string, options: BuildOptions): Promise<BuildResult> {
  if (!fs.existsSync(entry)) throw new CliError(`no such file: ${entry}`)
  if (!path.isAbsolute(options.bundlePath)) {
    throw new CliError(`--bundle-path must be absolute (where bundle.js is in the Envoy host or image), got "${options.bundlePath}"`)
  }
  const outDir = path.resolve(options.out)
  fs.mkdirSync(outDir, { recursive: true })
  const bundle = path.join(outDir, 'bundle.js')
  const config = options.config === undefined ? undefined : readConfigFile(options.config)
  const log = options.quiet ? () => {} : (line: string) => process.stderr.write(line + '\n')

  const { warnings } = await progress(log, `bundling ${entry}`, () => bundleFilter(path.resolve(entry), bundle))
  for (const warning of warnings) log(`  warning: ${warning}`)
  const filters = await progress(log, 'checking the exported filters', () => inspectBundle(bundle, config))
  const chosen = chooseFilter(filters, options.filter, bundle)
  if (chosen.configIssues && chosen.configIssues.length > 0) {
    throw new CliError(`the config in ${options.config} is invalid for filter "${chosen.name}":\n  ${chosen.configIssues.join('\n  ')}`)
  }
  const module = path.join(outDir, 'libnodevoy.so')
  fs.copyFileSync(libnodevoyPath(), module)
  fs.chmodSync(module, 0o755)

  const envoyYaml = path.join(outDir, 'envoy.yaml')
  const document = bootstrap({
    filters: [{ filter: chosen.name, bundlePath: options.bundlePath, config, failOpen: options.failOpen }],
    listen: { address: '0.0.0.0', port: 10000 },
    admin: { address: '127.0.0.1', port: 9901 },
    upstream: { address: '127.0.0.1', port: 8080 },
  })
  fs.writeFileSync(
    envoyYaml,
    toYaml(
      document,
      `Envoy v1.40 bootstrap for the nodevoy filter "${chosen.name}", written by \`nodevoy build\`.\n` +
        `Run with ENVOY_DYNAMIC_MODULES_SEARCH_PATH set to the directory of libnodevoy.so.\n` +
        `The "upstream" cluster (127.0.0.1:8080) is a placeholder: point it at your service.`,
    ),
  )
  const dockerfile = path.join(outDir, 'Dockerfile')
  fs.writeFileSync(dockerfile, DOCKERFILE(chosen.name))
  const files = [bundle, `${bundle}.map`, module, envoyYaml, dockerfile]
  for (const file of files) {
    log(`  wrote ${path.relative(process.cwd(), file) || file} (${fs.statSync(file).size} bytes)`)
  }
  log(`filter "${chosen.name}" is ready in ${path.relative(process.cwd(), outDir) || '.'}: run \`docker build\` there, or copy the files to your Envoy host`)
  return { outDir, bundle, filters, chosen, files }
}
