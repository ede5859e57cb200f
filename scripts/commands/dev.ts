// nodevoy dev <entry.ts>: builds the filter, runs it in the dev host in front of an upstream, and on
// every change rebuilds and swaps it in without dropping requests in flight (new streams get the new
// code, streams in flight finish on the old). Build errors are printed; the last good build keeps
// serving.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { bundleFilter } from '../bundle.js'
import { launchProxy, listenerPort, moduleEnv, waitReady } from '../lib/devhost.js'
import { bootstrap, toYaml } from '../lib/envoy-config.js'
import { CliError } from '../lib/errors.js'
import { inspectBundle } from '../lib/inspect.js'
import { devHostPath, libnodeDir, libnodevoyPath } from '../lib/paths.js'
import { readConfigFile } from '../lib/ui.js'
import { chooseFilter } from './build.js'

export interface DevOptions {
  upstream?: string
  port: number
  config?: string
  filter?: string
  concurrency: number
  /** Rebuild and swap on changes (default true). */
  watch?: boolean
  /** Where to print status lines (default stderr). */
  log?: (line: string) => void
  /** Where the dev host's own output goes (default stderr). */
  onOutput?: (text: string) => void
}

function parseUpstream(value: string): { address: string; port: number } {
  const match = /^([0-9.]+|localhost):(\d{1,5})$/.exec(value)
  if (!match || Number(match[2]) > 65535) throw new CliError(`--upstream must be host:port with an IPv4 host, got "${value}"`)
  return { address: match[1] === 'localhost' ? '127.0.0.1' : match[1]!, port: Number(match[2]) }
}

export interface DevSession {
  url: string
  adminUrl: string
  stop(): Promise<void>
}

export async function dev(entry: string, options: DevOptions): Promise<DevSession> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'))
  if (!fs.existsSync(entry)) throw new CliError(`no such file: ${entry}`)
  const upstream = options.upstream ? parseUpstream(options.upstream) : undefined
  const configFile = options.config ? path.resolve(options.config) : undefined
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-dev-'))
  const modules = path.join(work, 'modules')
  fs.mkdirSync(modules)
  fs.symlinkSync(libnodevoyPath(), path.join(modules, 'libnodevoy.so'))
  const configPath = path.join(work, 'envoy.yaml')
  let generation = 0

  // Builds the next generation and writes the dev host's bootstrap for it. Throws on any problem.
  const rebuild = async (): Promise<string[]> => {
    const next = generation + 1
    const bundle = path.join(work, `bundle-${next}.js`)
    const { inputs } = await bundleFilter(path.resolve(entry), bundle)
    const config = configFile === undefined ? undefined : readConfigFile(configFile)
    const chosen = chooseFilter(await inspectBundle(bundle, config), options.filter, entry)
    if (chosen.configIssues && chosen.configIssues.length > 0) {
      throw new CliError(`the config is invalid for filter "${chosen.name}":\n  ${chosen.configIssues.join('\n  ')}`)
    }
    const document = bootstrap({
      filters: [{ filter: chosen.name, bundlePath: bundle, config }],
      listen: { address: '127.0.0.1', port: options.port },
      admin: { address: '127.0.0.1', port: 0 },
      upstream: upstream ?? { directResponse: { status: 200, body: 'nodevoy dev: no --upstream given; the filter let this request through\n' } },
    })
    fs.writeFileSync(configPath, toYaml(document))
    generation = next
    const stale = path.join(work, `bundle-${next - 2}.js`)  // keep the previous one for streams still starting
    fs.rmSync(stale, { force: true })
    fs.rmSync(`${stale}.map`, { force: true })
    return [...inputs.filter((p) => !p.includes(`${path.sep}node_modules${path.sep}`)), ...(configFile ? [configFile] : [])]
  }

  let inputs = await rebuild()
  const adminPath = path.join(work, 'admin-address')
  const host = launchProxy({
    bin: devHostPath(),
    configPath,
    adminAddressPath: adminPath,
    concurrency: options.concurrency,
    env: moduleEnv(modules, libnodeDir()),
    onOutput: options.onOutput ?? ((text) => process.stderr.write(text)),
  })
  let adminUrl: string
  try {
    adminUrl = await waitReady(host, adminPath, 30_000)
  } catch (error) {
    host.child.kill('SIGKILL')
    fs.rmSync(work, { recursive: true, force: true })
    throw new CliError((error as Error).message)
  }
  const url = `http://127.0.0.1:${await listenerPort(adminUrl)}`
  const watching = options.watch ?? true
  log(
    `nodevoy dev: ${url} -> ${upstream ? `${upstream.address}:${upstream.port}` : 'a direct response (no --upstream)'}` +
      (watching ? `; watching ${inputs.length} files` : ''),
  )

  let watchers: fs.FSWatcher[] = []
  let timer: NodeJS.Timeout | undefined
  let busy = Promise.resolve()
  const watch = () => {
    for (const w of watchers) w.close()
    if (!watching) return
    watchers = inputs.filter((f) => fs.existsSync(f)).map((f) => fs.watch(f, () => schedule()))
  }
  const schedule = () => {
    clearTimeout(timer)
    timer = setTimeout(() => {
      busy = busy.then(async () => {
        try {
          inputs = await rebuild()
          const res = await fetch(`${adminUrl}/devhost/reload`, { method: 'POST' })
          const body = (await res.text()).trim()
          if (res.status !== 200) throw new CliError(body)
          log(`nodevoy dev: rebuilt and swapped in (generation ${generation})`)
        } catch (error) {
          log(`nodevoy dev: ${(error as Error).message}\nnodevoy dev: still serving the last good build; fix the error and save again`)
        }
        watch()  // editors often replace files: watch the new set
      })
    }, 100)
  }
  watch()

  return {
    url,
    adminUrl,
    async stop() {
      clearTimeout(timer)
      for (const w of watchers) w.close()
      await busy
      host.child.kill('SIGTERM')
      await host.exited
      fs.rmSync(work, { recursive: true, force: true })
    },
  }
}
