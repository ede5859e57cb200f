// nodevoy build <entry.ts> [--out dir]: the bundle, libnodevoy.so, envoy.yaml and a Dockerfile.
// Before writing anything for Envoy, the bundle is inspected in libnodevoy itself (lib/inspect.ts):
// it loads, the config passes the schema (an absent one too), create() runs, the Node builtins it
// imports exist in the embedded runtime; hook names create() returns are checked.
import fs from 'node:fs'
import path from 'node:path'
import { bundleFilter, scanBuiltinImports } from '../bundle.js'
import { bootstrap, parseClusterSpec, parseHostPort, toYaml, type NamedCluster, type UpstreamAddress } from '../lib/envoy-config.js'
import { CLI_TERMS, toolError } from '../lib/errors.js'
import { inspectFilter, type InspectResult } from '../lib/inspect.js'
import { libnodevoyPath } from '../lib/paths.js'
import { runtimeInfo } from '../lib/runtimes.js'
import { progress, readConfigFile } from '../lib/ui.js'

export interface BuildOptions {
  out: string
  filter?: string
  config?: string
  bundlePath: string
  /** host:port (IPv4, [IPv6] or a DNS name) of the service behind Envoy; default 127.0.0.1:8080. */
  upstream?: string
  /** Clusters for the filter's callouts (`stream.fetch`), each `name=host:port`. */
  clusters?: string[]
  failOpen?: boolean
  quiet?: boolean
}

export interface BuildResult {
  outDir: string
  bundle: string
  chosen: InspectResult
  warnings: string[]
  files: string[]
}

/** The upstream option as an address, or a clear error. */
export function upstreamOption(value: string, flag = '--upstream'): UpstreamAddress {
  const parsed = parseHostPort(value)
  if (!parsed) {
    throw toolError(
      'NODEVOY_ERR_INVALID_ARGUMENT',
      `${flag} must be host:port, with an IPv4 address, a host name or a bracketed IPv6 address ([::1]:8080), got "${value}"`,
    )
  }
  return parsed
}

/** Cluster options (`name=host:port`, once per name) as clusters, or a clear error. */
export function clusterOptions(values: readonly string[], flag = '--cluster'): NamedCluster[] {
  const clusters: NamedCluster[] = []
  for (const value of values) {
    let cluster: NamedCluster
    try {
      cluster = parseClusterSpec(value)
    } catch (error) {
      throw toolError('NODEVOY_ERR_INVALID_ARGUMENT', `${flag} ${(error as Error).message}`)
    }
    if (clusters.some((c) => c.name === cluster.name)) throw toolError('NODEVOY_ERR_INVALID_ARGUMENT', `${flag} ${cluster.name} is given twice`)
    clusters.push(cluster)
  }
  return clusters
}

const DOCKERFILE = (filter: string, bundlePath: string) => {
  const bundleDir = path.posix.dirname(bundlePath)
  return `# Runs the nodevoy filter "${filter}" in Envoy v1.40 on Debian 12, with Node ${runtimeInfo().nodeVersion}'s libnode.
# Written by \`nodevoy build\`. Build and run:
#   docker build -t my-envoy . && docker run --rm -p 10000:10000 my-envoy
FROM envoyproxy/envoy:v1.40.0 AS envoy

FROM debian:12-slim
# ${runtimeInfo().libnode.package} is Debian 12's Node ${runtimeInfo().nodeVersion} embedding library; it brings the builtins libnode loads at run time.
RUN apt-get update \\
 && apt-get install -y --no-install-recommends ${runtimeInfo().libnode.package} ca-certificates \\
 && rm -rf /var/lib/apt/lists/* \\
 && useradd --system --uid 10101 --no-create-home --shell /usr/sbin/nologin envoy
COPY --from=envoy /usr/local/bin/envoy /usr/local/bin/envoy
COPY libnodevoy.so envoy.yaml /etc/nodevoy/
# The bundle and its source map (stack traces name TypeScript lines when source maps are on; see below).
COPY bundle.js ${bundlePath}
COPY bundle.js.map ${bundleDir === '/' ? '' : bundleDir}/bundle.js.map
ENV ENVOY_DYNAMIC_MODULES_SEARCH_PATH=/etc/nodevoy
# TypeScript locations in the filter's stack traces, for a little memory per Envoy worker:
# ENV NODEVOY_NODE_OPTIONS=--enable-source-maps
USER envoy
EXPOSE 10000
CMD ["envoy", "-c", "/etc/nodevoy/envoy.yaml"]
`
}

export async function build(entry: string, options: BuildOptions): Promise<BuildResult> {
  if (!fs.existsSync(entry)) throw toolError('NODEVOY_ERR_INVALID_ARGUMENT', `no such file: ${entry}`)
  if (!path.isAbsolute(options.bundlePath)) {
    throw toolError(
      'NODEVOY_ERR_INVALID_ARGUMENT',
      `--bundle-path must be absolute (where bundle.js is in the Envoy host or image), got "${options.bundlePath}"`,
    )
  }
  const upstream = upstreamOption(options.upstream ?? '127.0.0.1:8080')
  const clusters = clusterOptions(options.clusters ?? [])
  const outDir = path.resolve(options.out)
  fs.mkdirSync(outDir, { recursive: true })
  const bundle = path.join(outDir, 'bundle.js')
  const config = options.config === undefined ? undefined : readConfigFile(options.config)
  const log = options.quiet ? () => {} : (line: string) => process.stderr.write(line + '\n')

  const { warnings } = await progress(log, `bundling ${entry}`, () => bundleFilter(path.resolve(entry), bundle))
  const builtins = await scanBuiltinImports(path.resolve(entry))
  const chosen = await progress(log, `checking the filter in libnodevoy (Node ${runtimeInfo().nodeVersion})`, () =>
    inspectFilter({ bundle, filter: options.filter, config, configSource: options.config, builtins, terms: CLI_TERMS }),
  )
  const allWarnings = [...warnings, ...chosen.warnings]
  for (const warning of allWarnings) log(`  warning: ${warning}`)
  const module = path.join(outDir, 'libnodevoy.so')
  fs.copyFileSync(libnodevoyPath(), module)
  fs.chmodSync(module, 0o755)

  const envoyYaml = path.join(outDir, 'envoy.yaml')
  const document = bootstrap({
    filters: [{ filter: chosen.name, bundlePath: options.bundlePath, config, failOpen: options.failOpen }],
    listen: { address: '0.0.0.0', port: 10000 },
    admin: { address: '127.0.0.1', port: 9901 },
    upstream,
    clusters,
    accessLog: true,
  })
  const target = upstream.host.includes(':') ? `[${upstream.host}]:${upstream.port}` : `${upstream.host}:${upstream.port}`
  fs.writeFileSync(
    envoyYaml,
    toYaml(
      document,
      `Envoy v1.40 bootstrap for the nodevoy filter "${chosen.name}", written by \`nodevoy build\`.\n` +
        `Run with ENVOY_DYNAMIC_MODULES_SEARCH_PATH set to the directory of libnodevoy.so.\n` +
        `Listens on :10000, sends requests to ${target} (the "upstream" cluster; \`--upstream host:port\` sets it),\n` +
        (clusters.length ? `has the clusters ${clusters.map((c) => c.name).join(', ')} for the filter's callouts (\`--cluster name=host:port\`),\n` : '') +
        `logs every request to stdout. The filter's config is JSON in a StringValue, so it reaches the filter unchanged.`,
    ),
  )
  const dockerfile = path.join(outDir, 'Dockerfile')
  fs.writeFileSync(dockerfile, DOCKERFILE(chosen.name, options.bundlePath))
  const files = [bundle, `${bundle}.map`, module, envoyYaml, dockerfile]
  for (const file of files) {
    log(`  wrote ${path.relative(process.cwd(), file) || file} (${fs.statSync(file).size} bytes)`)
  }
  log(`filter "${chosen.name}" is ready in ${path.relative(process.cwd(), outDir) || '.'}: run \`docker build\` there, or copy the files to your Envoy host`)
  return { outDir, bundle, chosen, warnings: allWarnings, files }
}
