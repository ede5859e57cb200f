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
import { activeRuntime, runnableHere, runtimeInfo, type RuntimeInfo } from '../lib/runtimes.js'
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
  /** The runtime to deploy on: node18, node20, node22 or node24 (default: the one in use here). */
  runtime?: string
}

export interface BuildResult {
  outDir: string
  bundle: string
  chosen: InspectResult
  warnings: string[]
  files: string[]
  /** The runtime the bundle targets and libnodevoy.so embeds. */
  runtime: string
  /** The runtime the filter was checked on in libnodevoy (the target's, where it runs here). */
  checkedOn: string
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

const DOCKERFILE = (filter: string, bundlePath: string, runtime: RuntimeInfo) => {
  const bundleDir = path.posix.dirname(bundlePath)
  const { libnode, deploy, nodeVersion } = runtime
  return `# Runs the nodevoy filter "${filter}" in Envoy v1.40 on ${deploy.distribution}, with Node ${nodeVersion}'s libnode (${runtime.name}).
# Written by \`nodevoy build\`. Build and run:
#   docker build -t my-envoy . && docker run --rm -p 10000:10000 my-envoy
FROM envoyproxy/envoy:v1.40.0 AS envoy

FROM ${deploy.image}
# ${libnode.package} is ${deploy.distribution}'s Node ${nodeVersion} embedding library; it brings the builtins libnode loads at run time.
# Security fixes: ${runtime.securityFixes}.
RUN apt-get update \\
 && apt-get install -y --no-install-recommends ${libnode.package} ca-certificates \\
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

  const runtime = runtimeInfo(options.runtime)
  // The filter is checked in libnodevoy on the target runtime where its libnode runs here; else on
  // the runtime in use here (without the builtins check, which would judge the target by another Node).
  const checkedOn = runnableHere(runtime) ? runtime : runtimeInfo(activeRuntime())
  const sameRuntime = checkedOn.name === runtime.name
  const { warnings } = await progress(log, `bundling ${entry} for ${runtime.name} (Node ${runtime.nodeVersion})`, () =>
    bundleFilter(path.resolve(entry), bundle, runtime.name),
  )
  const builtins = await scanBuiltinImports(path.resolve(entry))
  const chosen = await progress(log, `checking the filter in libnodevoy (${checkedOn.name}, Node ${checkedOn.nodeVersion})`, () =>
    inspectFilter({
      bundle,
      filter: options.filter,
      config,
      configSource: options.config,
      builtins: sameRuntime ? builtins : [],
      terms: CLI_TERMS,
      runtime: checkedOn.name,
    }),
  )
  const allWarnings = [...warnings, ...chosen.warnings]
  if (!sameRuntime) {
    allWarnings.push(
      `${runtime.name}'s libnode (${runtime.libnode.soname}, glibc >= ${runtime.glibc}) does not run on this machine, so the filter was ` +
        `checked on ${checkedOn.name} (Node ${checkedOn.nodeVersion}) and the Node builtins it imports were not checked against Node ${runtime.nodeVersion}; ` +
        `run \`nodevoy build --runtime ${runtime.name}\` where ${runtime.libnode.package} is installed (${runtime.deploy.distribution}) to check it there`,
    )
  }
  for (const warning of allWarnings) log(`  warning: ${warning}`)
  const module = path.join(outDir, 'libnodevoy.so')
  fs.copyFileSync(libnodevoyPath(runtime.name), module)
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
  fs.writeFileSync(dockerfile, DOCKERFILE(chosen.name, options.bundlePath, runtime))
  const files = [bundle, `${bundle}.map`, module, envoyYaml, dockerfile]
  for (const file of files) {
    log(`  wrote ${path.relative(process.cwd(), file) || file} (${fs.statSync(file).size} bytes)`)
  }
  log(`filter "${chosen.name}" is ready in ${path.relative(process.cwd(), outDir) || '.'}: run \`docker build\` there, or copy the files to your Envoy host`)
  return { outDir, bundle, chosen, warnings: allWarnings, files, runtime: runtime.name, checkedOn: checkedOn.name }
}
