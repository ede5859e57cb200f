// nodevoy dev <entry.ts>: builds the filter, runs it in the dev host in front of an upstream, and on
// every change rebuilds and swaps it in without dropping requests in flight (new streams get the new
// code, streams in flight finish on the old).
//
// esbuild's own watch mode follows the import graph from the start (edits made while the dev host
// starts are not lost); each build is inspected in libnodevoy (lib/inspect.ts) before it is swapped
// in. A broken build or config is reported and the last good build keeps serving; at start, the
// loop waits for a fix. Stack traces are source-mapped; `inspect` opens Node's inspector on the
// worker's environment.
import dns from 'node:dns/promises'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { context, type BuildContext, type BuildResult, type Message } from 'esbuild'
import { bundleError, bundleOptions, formatMessage, metafileInputs, scanBuiltinImports } from '../bundle.js'
import { launchProxy, listenerPort, moduleEnv, waitReady, type ProxyProcess } from '../lib/devhost.js'
import { bootstrap, parseHostPort, toYaml, type NamedCluster, type UpstreamAddress } from '../lib/envoy-config.js'
import { clusterOptions } from './build.js'
import { CLI_TERMS, NodevoyError, toolError, type Terms } from '../lib/errors.js'
import { inspectFilter, withSourceMaps } from '../lib/inspect.js'
import { devHostPath, libnodeDir, libnodevoyPath } from '../lib/paths.js'
import { RUNTIME_NAMES, runtimeInfo } from '../lib/runtimes.js'
import { readConfigFile } from '../lib/ui.js'

export interface DevOptions {
  /** host:port of the service behind the filter (IPv4 or a host name); default: a direct 200 response. */
  upstream?: string
  /** Clusters for the filter's callouts (`stream.fetch(name, ...)`), each `name=host:port` (IPv4 or a host name). */
  clusters?: string[]
  /** Listening port (0: any free port). */
  port: number
  /** Listening address (default 127.0.0.1; 0.0.0.0 in a container). */
  host?: string
  /** The filter's config file (JSON or YAML); changes are picked up. */
  config?: string
  /** The filter's config as a value (instead of a file). */
  configValue?: unknown
  filter?: string
  concurrency: number
  /** The dev host's log level (trace, debug, info, warning, error, critical, off); default info. */
  logLevel?: string
  /** host:port for Node's inspector on the (single) worker's environment. */
  inspect?: string
  /** Rebuild and swap on changes (default true). At start, a broken build then waits for a fix. */
  watch?: boolean
  /** Where to print status lines (default stderr). */
  log?: (line: string) => void
  /** Where the dev host's own output goes (default stderr). */
  onOutput?: (text: string) => void
  /** How messages name the options (default: the CLI's flags). */
  terms?: Terms
}

export interface DevSession {
  /** Resolves once the first build serves (rejects when the loop cannot start; it has then stopped). */
  ready: Promise<void>
  /** Base URL of the listener (once ready). */
  url: string
  /** Base URL of the dev host's admin interface (once ready). */
  adminUrl: string
  /** The debugger's WebSocket URL, with `inspect` (once ready). */
  inspectorUrl?: string
  /** Generations served so far (1 after start). */
  generation: number
  /** Stops watching and the dev host (in-flight requests finish first) and removes every file. */
  stop(): Promise<void>
}

/** Where the dev host sends requests: an IPv4 address (it connects over IPv4 only). */
async function devUpstream(value: string, terms: Terms): Promise<{ address: UpstreamAddress; shown: string }> {
  const parsed = parseHostPort(value)
  if (!parsed) {
    throw toolError('NODEVOY_ERR_INVALID_ARGUMENT', `${terms.upstream} must be host:port (an IPv4 address or a host name, e.g. localhost:8080), got "${value}"`)
  }
  const address = await devAddress(parsed, `${terms.upstream} ${value}`)
  return { address, shown: address.host === parsed.host ? value : `${value} (${address.host})` }
}

/** The dev host's clusters for callouts (checked as `nodevoy build` checks them), each resolved to IPv4 now. */
async function devClusters(values: readonly string[], terms: Terms): Promise<NamedCluster[]> {
  const clusters: NamedCluster[] = []
  for (const cluster of clusterOptions(values, terms.cluster)) {
    clusters.push({ name: cluster.name, address: await devAddress(cluster.address, `${terms.cluster} ${cluster.name}=${cluster.address.host}:${cluster.address.port}`) })
  }
  return clusters
}

/** An address the dev host can connect to: IPv4, a host name resolved to IPv4 now. */
async function devAddress(parsed: UpstreamAddress, what: string): Promise<UpstreamAddress> {
  if (net.isIPv4(parsed.host)) return parsed
  if (net.isIPv6(parsed.host)) {
    throw toolError(
      'NODEVOY_ERR_INVALID_ARGUMENT',
      `${what}: the dev host connects to upstreams over IPv4 only; use an IPv4 address or a host name with an IPv4 address ` +
        '(`nodevoy build` accepts IPv6 for Envoy)',
    )
  }
  try {
    const { address } = await dns.lookup(parsed.host, { family: 4 })
    return { host: address, port: parsed.port }
  } catch (error) {
    throw toolError('NODEVOY_ERR_INVALID_ARGUMENT', `${what}: cannot resolve ${parsed.host} to an IPv4 address (${(error as Error).message})`)
  }
}

/** Starts the dev loop; `ready` says when it serves. The CLI stops it on Ctrl-C even before then. */
export function startDev(entry: string, options: DevOptions): DevSession {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'))
  const onOutput = options.onOutput ?? ((text: string) => process.stderr.write(text))
  const terms = options.terms ?? CLI_TERMS
  const watching = options.watch ?? true
  const concurrency = options.inspect ? 1 : options.concurrency
  const listenAddress = options.host ?? '127.0.0.1'
  const configFile = options.config ? path.resolve(options.config) : undefined
  const entryPath = path.resolve(entry)

  let work: string | undefined
  let ctx: BuildContext | undefined
  let host: ProxyProcess | undefined
  let configWatcher: fs.FSWatcher | undefined
  let stopped = false
  let generation = 0
  let attempt = 0
  let latest: BuildResult | undefined
  let queued = false
  let chain: Promise<void> = Promise.resolve()
  let settleReady: { resolve: () => void; reject: (e: unknown) => void } | undefined
  const ready = new Promise<void>((resolve, reject) => (settleReady = { resolve, reject }))
  ready.catch(() => {})  // observed through session.ready

  // Stops everything; from inside the deploy chain it must not wait for the chain itself.
  const shutdown = async (insideChain: boolean) => {
    if (stopped) return
    stopped = true
    configWatcher?.close()
    await ctx?.dispose().catch(() => {})
    if (!insideChain) await chain
    if (host) {
      host.child.kill('SIGTERM')
      await host.exited
    }
    if (work) fs.rmSync(work, { recursive: true, force: true })
    settleReady?.reject(toolError('NODEVOY_ERR_DEVHOST_FAILED', 'the dev loop was stopped before it served'))
    settleReady = undefined
  }
  const session: DevSession = { ready, url: '', adminUrl: '', generation: 0, stop: () => shutdown(false) }

  // Cleans up first, so a caller that sees the rejection finds nothing left behind.
  const fail = async (error: unknown, insideChain: boolean) => {
    const settle = settleReady
    settleReady = undefined
    await shutdown(insideChain)
    settle?.reject(error)
  }

  // One generation: the latest build, inspected in libnodevoy, then served (started or swapped in).
  const deploy = async (result: BuildResult, upstream: { address: UpstreamAddress; shown: string } | undefined) => {
    if (result.errors.length) throw bundleError(entry, result.errors as Message[])
    const dir = path.join(work!, `attempt-${++attempt}`)
    fs.mkdirSync(dir)
    try {
      for (const file of result.outputFiles ?? []) fs.writeFileSync(path.join(dir, path.basename(file.path)), file.contents)
      const bundle = path.join(dir, 'bundle.js')
      const config = options.configValue !== undefined ? options.configValue : configFile ? readConfigFile(configFile) : undefined
      const builtins = await scanBuiltinImports(entryPath)
      const chosen = await inspectFilter({
        bundle,
        filter: options.filter,
        config,
        configSource: configFile ? path.relative(process.cwd(), configFile) || configFile : options.configValue !== undefined ? terms.config : undefined,
        builtins,
        terms,
        workDir: work,
      })
      for (const warning of [...result.warnings.map(formatMessage), ...chosen.warnings]) log(`nodevoy dev: warning: ${warning}`)
      if (stopped) return
      const document = bootstrap({
        filters: [{ filter: chosen.name, bundlePath: bundle, config }],
        listen: { address: listenAddress, port: options.port },
        admin: { address: '127.0.0.1', port: 0 },
        upstream: upstream?.address ?? { directResponse: { status: 200, body: 'nodevoy dev: no --upstream given; the filter let this request through\n' } },
        clusters,
      })
      fs.writeFileSync(path.join(work!, 'envoy.yaml'), toYaml(document))
      if (!host) {
        await startHost(upstream)
      } else {
        const res = await fetch(`${session.adminUrl}/devhost/reload`, { method: 'POST' })
        const body = (await res.text()).trim()
        if (res.status !== 200) throw toolError('NODEVOY_ERR_DEVHOST_FAILED', body)
      }
      session.generation = ++generation
      if (generation > 1) log(`nodevoy dev: rebuilt and swapped in (generation ${generation})`)
      // Keep this generation and the previous one (streams still starting may load it); drop the rest.
      for (const name of fs.readdirSync(work!)) {
        const n = /^attempt-(\d+)$/.exec(name)
        if (n && Number(n[1]) < attempt && name !== previousServed) fs.rmSync(path.join(work!, name), { recursive: true, force: true })
      }
      previousServed = path.basename(dir)
    } catch (error) {
      fs.rmSync(dir, { recursive: true, force: true })
      throw error
    }
  }
  let previousServed: string | undefined
  let clusters: NamedCluster[] = []  // resolved once at start

  const startHost = async (upstream: { address: UpstreamAddress; shown: string } | undefined) => {
    const adminPath = path.join(work!, 'admin-address')
    let env = withSourceMaps(moduleEnv(path.join(work!, 'modules'), libnodeDir()))
    if (options.inspect) env = { ...env, NODEVOY_INSPECT: options.inspect, NODEVOY_INSPECT_WORKER: '0' }
    else delete env.NODEVOY_INSPECT
    let inspectorLine = ''
    const launched = launchProxy({
      bin: devHostPath(),
      configPath: path.join(work!, 'envoy.yaml'),
      adminAddressPath: adminPath,
      concurrency,
      logLevel: options.logLevel,
      env,
      onOutput: (text) => {
        const ws = /Debugger listening on (ws:\/\/\S+)/.exec(text)
        if (ws) inspectorLine = ws[1]!
        onOutput(text)
      },
    })
    host = launched
    // A process that exits without stop() (a test that forgot it, an uncaught error) takes its dev
    // host and files along instead of leaving them behind.
    const killOnExit = () => {
      launched.child.kill('SIGKILL')
      if (work) fs.rmSync(work, { recursive: true, force: true })
    }
    process.once('exit', killOnExit)
    void launched.exited.then(() => process.off('exit', killOnExit))
    try {
      session.adminUrl = await waitReady(launched, adminPath, 30_000)
    } catch (error) {
      host = undefined
      launched.child.kill('SIGKILL')
      await launched.exited
      throw toolError('NODEVOY_ERR_DEVHOST_FAILED', `the dev host did not start: ${(error as Error).message}`)
    }
    void launched.exited.then(({ code, signal }) => {
      if (stopped || host !== launched) return
      host = undefined
      log(`nodevoy dev: the dev host exited (${signal ?? `code ${code}`}); it starts again with the next good build`)
    })
    const port = await listenerPort(session.adminUrl)
    const shownHost = listenAddress === '0.0.0.0' ? '127.0.0.1' : listenAddress
    session.url = `http://${shownHost}:${port}`
    if (options.inspect) {
      session.inspectorUrl = inspectorLine || undefined
      log(
        session.inspectorUrl
          ? `nodevoy dev: debugger on ${session.inspectorUrl} (worker 0; open chrome://inspect, or attach VS Code to ${options.inspect})`
          : `nodevoy dev: the debugger did not start on ${options.inspect} (see the dev host's output above)`,
      )
    }
    log(
      `nodevoy dev: ${session.url}${listenAddress === '0.0.0.0' ? ' (listening on all addresses)' : ''} -> ` +
        `${upstream ? upstream.shown : 'a direct response (no --upstream)'}` +
        (watching ? `; watching ${plural(sourceCount(), 'file')}` : '') +
        `; on ${runtimeInfo().name} (Node ${runtimeInfo().nodeVersion}), what \`nodevoy build\` deploys here by default ` +
        `(NODEVOY_RUNTIME=<${RUNTIME_NAMES.join('|')}> picks another where its libnode runs)`,
    )
  }

  // The project's own sources in the build (esbuild watches node_modules too, they rarely change).
  const sourceCount = () =>
    latest?.metafile ? metafileInputs(latest.metafile).filter((p) => !p.includes(`${path.sep}node_modules${path.sep}`)).length : 0

  const schedule = (upstream: { address: UpstreamAddress; shown: string } | undefined) => {
    if (queued || stopped) return
    queued = true
    chain = chain.then(async () => {
      queued = false
      const result = latest
      if (!result || stopped) return
      try {
        await deploy(result, upstream)
        settleReady?.resolve()
        settleReady = undefined
      } catch (error) {
        const fatal = !(error instanceof NodevoyError) || error.code === 'NODEVOY_ERR_DEVHOST_FAILED' || error.code === 'NODEVOY_ERR_NATIVE_UNAVAILABLE'
        if (settleReady && (!watching || (fatal && !host))) {
          await fail(error, true)
          return
        }
        log(`nodevoy dev: ${(error as Error).message}`)
        log(
          host
            ? 'nodevoy dev: still serving the last good build; fix the error and save again'
            : 'nodevoy dev: waiting for a fix; save the file to try again',
        )
      }
    })
  }

  const start = async () => {
    if (!fs.existsSync(entryPath)) throw toolError('NODEVOY_ERR_INVALID_ARGUMENT', `no such file: ${entry}`)
    if (configFile && !fs.existsSync(configFile)) throw toolError('NODEVOY_ERR_INVALID_ARGUMENT', `no such config file: ${options.config}`)
    if (options.inspect && !parseHostPort(options.inspect, { anyPort: true })) {
      throw toolError('NODEVOY_ERR_INVALID_ARGUMENT', `--inspect must be host:port, e.g. 127.0.0.1:9229, got "${options.inspect}"`)
    }
    // The native parts first: without them nothing below can work, and the error says how to get them.
    devHostPath()
    libnodeDir()
    const module = libnodevoyPath()
    const runtime = runtimeInfo()
    const upstream = options.upstream ? await devUpstream(options.upstream, terms) : undefined
    clusters = await devClusters(options.clusters ?? [], terms)
    if (options.inspect && options.concurrency > 1) log(`nodevoy dev: --inspect runs one worker (--concurrency 1), so every request meets the debugger`)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-dev-'))
    if (stopped) return fs.rmSync(dir, { recursive: true, force: true })
    work = dir
    fs.mkdirSync(path.join(work, 'modules'))
    fs.symlinkSync(module, path.join(work, 'modules', 'libnodevoy.so'))
    const esbuildOptions = bundleOptions(entryPath, path.join(work, 'bundle.js'), runtime.name)
    ctx = await context({
      ...esbuildOptions,
      write: false,
      plugins: [
        ...(esbuildOptions.plugins ?? []),  // the bundle's own (its finishing: undici marker, ASCII) first
        {
          name: 'nodevoy-dev',
          setup(build) {
            build.onEnd((result) => {
              latest = result
              schedule(upstream)
            })
          },
        },
      ],
    })
    if (stopped) return void (await ctx.dispose())
    if (configFile && watching) {
      // Editors often replace files: watch the directory for the config's name.
      configWatcher = fs.watch(path.dirname(configFile), (_event, name) => {
        if (name === path.basename(configFile)) schedule(upstream)
      })
    }
    if (watching) await ctx.watch()
    else await ctx.rebuild().catch(() => {})  // errors reach onEnd too
  }
  start().catch((error) => fail(error, false))
  return session
}

/** Starts the dev loop and waits until it serves (the first build works). */
export async function dev(entry: string, options: DevOptions): Promise<DevSession> {
  const session = startDev(entry, options)
  await session.ready
  return session
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}
