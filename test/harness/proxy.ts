// Starts the proxy under test — the dev host, or real Envoy when ENVOY_BIN is set — with a
// bootstrap config, and stops it. Both are driven the same way: admin address file, /ready,
// /listeners?format=json for the listener port.
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import YAML from 'yaml'
import { devHostBin, devHostBinFor, libnodeDir, nodevoyModule, referenceModulesDir, testModulesDir } from './paths.js'

export type Target = 'devhost' | 'envoy'
export const TARGETS: Target[] = ['devhost', 'envoy']

export const ENVOY_VERSIONS = ['1.38', '1.39', '1.40'] as const
export type EnvoyVersion = (typeof ENVOY_VERSIONS)[number]

/**
 * The Envoy release the dev host imitates in this test run: NODEVOY_ENVOY_VERSION (1.38, 1.39 or 1.40),
 * default 1.40. `npm run test:versions` runs the libnodevoy and example suites once per release.
 */
export function envoyVersionUnderTest(): EnvoyVersion {
  const wanted = process.env.NODEVOY_ENVOY_VERSION
  if (wanted === undefined || wanted === '') return '1.40'
  if (!(ENVOY_VERSIONS as readonly string[]).includes(wanted)) {
    throw new Error(`NODEVOY_ENVOY_VERSION must be one of ${ENVOY_VERSIONS.join(', ')}, got '${wanted}'`)
  }
  return wanted as EnvoyVersion
}

/** Why a target cannot run here, or null when it can. */
export function unavailableReason(target: Target): string | null {
  if (target === 'envoy') {
    const bin = process.env.ENVOY_BIN
    if (!bin) return 'ENVOY_BIN is not set: real-Envoy conformance runs only where an Envoy binary exists'
    if (!fs.existsSync(bin)) return `ENVOY_BIN=${bin} does not exist`
    return null
  }
  const bin = devHostBinFor(envoyVersionUnderTest())
  if (!fs.existsSync(bin)) return `dev host not built (${bin}); run npm run build:native`
  return null
}

export interface StartOptions {
  concurrency?: number
  logLevel?: string
  componentLogLevel?: string
  env?: Record<string, string>
  /** Extra arguments for the proxy binary. */
  args?: string[]
  /** Dev host only: run this build of the dev host instead of out/nodevoy-devhost (one linked differently). */
  devHostBinary?: string
  readyTimeoutMs?: number
  /** Dev host only: the Envoy release to imitate (default: envoyVersionUnderTest()). */
  envoyVersion?: EnvoyVersion
}

export interface Proxy {
  target: Target
  port: number
  url: string
  adminUrl: string
  process: ChildProcess
  logs(): string
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>
  stats(): Promise<Map<string, string>>
  stat(name: string): Promise<number | undefined>
  /** SIGTERM and wait; resolves with the exit code (null when killed by a signal). */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Dev host only: rewrites the bootstrap file and asks for a reload (POST /devhost/reload). */
  reload(config: Record<string, unknown> | string): Promise<{ status: number; body: string }>
}

let searchPathDir: string | undefined

/** A directory holding every built module, for ENVOY_DYNAMIC_MODULES_SEARCH_PATH. */
export function moduleSearchPath(): string {
  if (searchPathDir) return searchPathDir
  searchPathDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-modules-'))
  for (const dir of [referenceModulesDir, testModulesDir]) {
    if (!fs.existsSync(dir)) continue
    for (const file of fs.readdirSync(dir)) {
      if (file.endsWith('.so')) fs.symlinkSync(path.join(dir, file), path.join(searchPathDir, file))
    }
  }
  // libnodevoy is node-gyp's nodevoy.node; Envoy looks for lib<name>.so.
  if (fs.existsSync(nodevoyModule)) fs.symlinkSync(nodevoyModule, path.join(searchPathDir, 'libnodevoy.so'))
  process.on('exit', () => fs.rmSync(searchPathDir!, { recursive: true, force: true }))
  return searchPathDir
}

function command(target: Target, configPath: string, adminPath: string, opts: StartOptions): [string, string[]] {
  const args = [
    '-c', configPath,
    '--concurrency', String(opts.concurrency ?? 2),
    '--admin-address-path', adminPath,
    '--log-level', opts.logLevel ?? 'info',
    ...(opts.componentLogLevel ? ['--component-log-level', opts.componentLogLevel] : []),
    ...(opts.args ?? []),
  ]
  if (target === 'envoy') return [process.env.ENVOY_BIN!, [...args, '--use-dynamic-base-id']]
  const version = opts.envoyVersion ?? envoyVersionUnderTest()
  // The default needs no flag (and NODEVOY_ENVOY_VERSION is not passed down: the flag says it all).
  return [opts.devHostBinary ?? devHostBin, version === '1.40' ? args : [...args, '--envoy-version', version]]
}

/**
 * A bootstrap as YAML that Envoy reads back unchanged: Envoy (yaml-cpp) takes unquoted yes/no/on/off/y/n
 * as booleans (YAML 1.1), so strings like those are written quoted. (Floats and integers beyond int32
 * still reach a Struct as strings, as they would from any YAML: docs/envoy-facts.md §21.)
 */
export function bootstrapYaml(config: Record<string, unknown>): string {
  return YAML.stringify(config, { version: '1.1' })
}

function withoutEnvoyVersion(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODEVOY_ENVOY_VERSION: _ignored, ...rest } = env
  return rest
}

interface Launched {
  child: ChildProcess
  dir: string
  configPath: string
  adminPath: string
  output: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

function launch(target: Target, config: Record<string, unknown> | string, opts: StartOptions): Launched {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nodevoy-${target}-`))
  const configPath = path.join(dir, 'envoy.yaml')
  fs.writeFileSync(configPath, typeof config === 'string' ? config : bootstrapYaml(config))
  const adminPath = path.join(dir, 'admin-address')
  const [bin, args] = command(target, configPath, adminPath, opts)
  const libraryPath = [fs.existsSync(libnodeDir) ? libnodeDir : '', process.env.LD_LIBRARY_PATH ?? '']
    .filter(Boolean)
    .join(':')
  const child = spawn(bin, args, {
    env: {
      ...withoutEnvoyVersion(process.env),
      ENVOY_DYNAMIC_MODULES_SEARCH_PATH: moduleSearchPath(),
      ...(libraryPath ? { LD_LIBRARY_PATH: libraryPath } : {}),
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  )
  return { child, dir, configPath, adminPath, output: () => output, exited }
}

/** Runs the proxy with a config expected to be refused; resolves with its exit code and output. */
export async function runExpectingFailure(
  target: Target,
  config: Record<string, unknown> | string,
  opts: StartOptions = {},
): Promise<{ code: number | null; output: string }> {
  const launched = launch(target, config, opts)
  const timer = setTimeout(() => launched.child.kill('SIGKILL'), opts.readyTimeoutMs ?? 20_000)
  const ready = waitReady(launched, 20_000).then(
    () => true,
    () => false,
  )
  const result = await Promise.race([launched.exited.then((e) => ({ started: false, e })), ready.then((r) => ({ started: r, e: null }))])
  if (result.started) {
    launched.child.kill('SIGTERM')
    await launched.exited
    clearTimeout(timer)
    fs.rmSync(launched.dir, { recursive: true, force: true })
    throw new Error(`the ${target} started although the config should have been refused:\n${launched.output()}`)
  }
  const exit = await launched.exited
  clearTimeout(timer)
  fs.rmSync(launched.dir, { recursive: true, force: true })
  return { code: exit.code, output: launched.output() }
}

async function waitReady(launched: Launched, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs
  let exited = false
  launched.exited.then(() => (exited = true))
  while (Date.now() < deadline) {
    if (exited) throw new Error(`proxy exited during start-up:\n${launched.output()}`)
    if (fs.existsSync(launched.adminPath)) {
      const admin = `http://${fs.readFileSync(launched.adminPath, 'utf8').trim()}`
      try {
        const res = await request(`${admin}/ready`)
        const body = await res.body.text()
        if (res.statusCode === 200 && body.trim() === 'LIVE') return admin
      } catch {
        // not listening yet
      }
    }
    await sleep(20)
  }
  throw new Error(`proxy not ready after ${timeoutMs} ms:\n${launched.output()}`)
}

export async function startProxy(
  target: Target,
  config: Record<string, unknown> | string,
  opts: StartOptions = {},
): Promise<Proxy> {
  const launched = launch(target, config, opts)
  let adminUrl: string
  try {
    adminUrl = await waitReady(launched, opts.readyTimeoutMs ?? 20_000)
  } catch (err) {
    launched.child.kill('SIGKILL')
    await launched.exited
    fs.rmSync(launched.dir, { recursive: true, force: true })
    throw err
  }
  const listeners = (await (await request(`${adminUrl}/listeners?format=json`)).body.json()) as {
    listener_statuses: { local_address: { socket_address: { port_value: number } } }[]
  }
  const port = listeners.listener_statuses[0]!.local_address.socket_address.port_value
  const stats = async () => {
    const text = await (await request(`${adminUrl}/stats`)).body.text()
    const map = new Map<string, string>()
    for (const line of text.split('\n')) {
      const i = line.indexOf(': ')
      if (i > 0) map.set(line.slice(0, i), line.slice(i + 2))
    }
    return map
  }
  let stopped: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined
  return {
    target,
    port,
    url: `http://127.0.0.1:${port}`,
    adminUrl,
    process: launched.child,
    logs: launched.output,
    async waitForLog(pattern, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs
      while (Date.now() < deadline) {
        const match = pattern.exec(launched.output())
        if (match) return match[0]
        await sleep(20)
      }
      throw new Error(`log line ${pattern} not seen in ${timeoutMs} ms; output:\n${launched.output()}`)
    },
    stats,
    async stat(name) {
      const value = (await stats()).get(name)
      return value === undefined ? undefined : Number(value)
    },
    async reload(config) {
      fs.writeFileSync(launched.configPath, typeof config === 'string' ? config : bootstrapYaml(config))
      const res = await request(`${adminUrl}/devhost/reload`, { method: 'POST' })
      return { status: res.statusCode, body: await res.body.text() }
    },
    stop() {
      if (stopped) return stopped
      const kill = setTimeout(() => launched.child.kill('SIGKILL'), 15_000)
      launched.child.kill('SIGTERM')
      stopped = launched.exited.then((result) => {
        clearTimeout(kill)
        fs.rmSync(launched.dir, { recursive: true, force: true })
        return result
      })
      return stopped
    },
  }
}
