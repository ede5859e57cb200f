// Runs a proxy process (the dev host, or Envoy with the same flags) on a bootstrap file and waits
// until it is ready: admin address file written, /ready answering LIVE, listener port known.
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export interface ProxyProcessOptions {
  bin: string
  configPath: string
  /** Where the proxy writes its admin address (--admin-address-path). */
  adminAddressPath: string
  concurrency?: number
  logLevel?: string
  componentLogLevel?: string
  args?: string[]
  env?: NodeJS.ProcessEnv
  /** Called with every chunk the process writes to stdout or stderr. */
  onOutput?: (text: string) => void
}

export interface ProxyProcess {
  child: ChildProcess
  output(): string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

export function launchProxy(options: ProxyProcessOptions): ProxyProcess {
  const args = [
    '-c', options.configPath,
    '--concurrency', String(options.concurrency ?? 2),
    '--admin-address-path', options.adminAddressPath,
    '--log-level', options.logLevel ?? 'info',
    ...(options.componentLogLevel ? ['--component-log-level', options.componentLogLevel] : []),
    ...(options.args ?? []),
  ]
  const child = spawn(options.bin, args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const collect = (d: Buffer) => {
    const text = d.toString()
    output += text
    options.onOutput?.(text)
  }
  child.stdout!.on('data', collect)
  child.stderr!.on('data', collect)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  )
  return { child, output: () => output, exited }
}

/** Waits for /ready to answer LIVE; returns the admin URL. Rejects if the process exits first. */
export async function waitReady(proxy: ProxyProcess, adminAddressPath: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs
  let exited = false
  void proxy.exited.then(() => (exited = true))
  while (Date.now() < deadline) {
    if (exited) throw new Error(`the proxy exited during start-up:\n${proxy.output()}`)
    if (fs.existsSync(adminAddressPath)) {
      const admin = `http://${fs.readFileSync(adminAddressPath, 'utf8').trim()}`
      try {
        const res = await fetch(`${admin}/ready`)
        const body = await res.text()
        if (res.status === 200 && body.trim() === 'LIVE') return admin
      } catch {
        // not listening yet
      }
    }
    await sleep(20)
  }
  throw new Error(`the proxy was not ready after ${timeoutMs} ms:\n${proxy.output()}`)
}

/** The first listener's port, from /listeners?format=json. */
export async function listenerPort(adminUrl: string): Promise<number> {
  const listeners = (await (await fetch(`${adminUrl}/listeners?format=json`)).json()) as {
    listener_statuses: { local_address: { socket_address: { port_value: number } } }[]
  }
  return listeners.listener_statuses[0]!.local_address.socket_address.port_value
}

/** Environment for a proxy that loads libnodevoy: the module directory and libnode's. */
export function moduleEnv(searchPath: string, libnodeDir: string | undefined, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const libraryPath = [libnodeDir, base.LD_LIBRARY_PATH].filter(Boolean).join(path.delimiter)
  return {
    ...base,
    ENVOY_DYNAMIC_MODULES_SEARCH_PATH: searchPath,
    ...(libraryPath ? { LD_LIBRARY_PATH: libraryPath } : {}),
  }
}
