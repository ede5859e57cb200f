// Instructions per request in the dev host process, end to end, split by object (libnode/V8, JIT
// code, libnodevoy, the dev host, libc, the kernel's vDSO...): the dev host runs under valgrind's
// callgrind at --concurrency 1; after a warm-up its counters are zeroed, a fixed number of
// keep-alive requests are sent one at a time on one connection, and the counters are dumped. Every
// thread of the process counts (V8's GC and compiler threads too). Instruction counts do not
// depend on what else runs on the machine, unlike time.
//
// Usage: tsx bench/callgrind.ts [--requests N] [--warmup N] [--only a,b] [--functions N] [--keep dir] [--native] [--devhost binary]
// Needs valgrind (apt-get install valgrind). Not part of `npm run bench` (it takes minutes).
// --native: the same requests without valgrind; prints CPU µs and minor page faults per request of the
// dev host process (from /proc: what callgrind cannot see, the kernel's share, e.g. fresh pages
// touched per request). Wall-clock based, so noisy on a shared machine; the faults are not.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { bundleFilter } from '../scripts/bundle.js'
import { bootstrap, type ModuleFilterDef } from '../test/harness/config.js'
import { nodevoyFilter } from '../test/harness/nodevoy.js'
import { devHostBin, repoRoot } from '../test/harness/paths.js'
import { startProxy } from '../test/harness/proxy.js'

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const requests = Number(argValue('--requests') ?? 2000)
// Under valgrind V8's optimizing compiler finishes late: a short warm-up leaves TurboFan's work in the
// window (measured: TS basic-auth 49,220 instructions per request after 6,000 warm-up requests, 46,478
// after 20,000, with no compiler functions left in the profile).
const warmupRequests = Number(argValue('--warmup') ?? 20000)
const only = argValue('--only')?.split(',')
const topFunctions = Number(argValue('--functions') ?? 0)
const keepDir = argValue('--keep')
const native = process.argv.includes('--native')
// --devhost <binary>: another dev host build (to compare one against another, e.g. main's).
const devHost = argValue('--devhost') ?? devHostBin
// Under valgrind a hook runs tens of times slower than natively: the per-hook CPU budget must not stop it.
const budgets = { NODEVOY_CPU_BUDGET_MS: '60000' }
const log = (line: string) => process.stderr.write(`[callgrind] ${line}\n`)

const AUTHORIZATION = `Basic ${Buffer.from('alice:wonderland').toString('base64')}`
const credentials = { username: 'alice', password: 'wonderland' }
const OUT = path.join(repoRoot, 'out', 'bench')

async function tsFilter(name: string, entry: string, config?: unknown): Promise<ModuleFilterDef[]> {
  const bundle = path.join(OUT, `callgrind-${name}.js`)
  await bundleFilter(path.join(repoRoot, entry), bundle)
  return [nodevoyFilter({ name, bundle, ...(config !== undefined ? { config } : {}) })]
}

const BODY_BYTES = 64 * 1024

const SCENARIOS: { name: string; filters: () => Promise<ModuleFilterDef[]>; body?: number }[] = [
  { name: 'none', filters: async () => [] },
  { name: 'C basic_auth', filters: async () => [{ name: 'basic_auth', module: 'basic_auth', config: credentials }] },
  { name: 'TS noop', filters: () => tsFilter('noop', 'bench/filters/noop.ts') },
  { name: 'TS basic-auth', filters: () => tsFilter('basic-auth', 'examples/basic-auth/filter.ts', credentials) },
  // POSTs of 64 KiB (as `npm run bench`'s body group): the C buffer filter holds the request until its
  // body is in (without a filter the direct response would start before the body), the TS one reads it.
  { name: 'C buffer, 64 KiB POST', body: BODY_BYTES, filters: async () => [{ name: 'buffer', module: 'buffer' }] },
  { name: 'TS read 64 KiB body', body: BODY_BYTES, filters: () => tsFilter('read-body', 'bench/filters/read-body.ts') },
]

// ---- One connection, one request at a time ---------------------------------------------------------

class Client {
  private buffered = Buffer.alloc(0)
  private waiting: ((status: number) => void) | undefined
  private constructor(
    private readonly socket: net.Socket,
    private readonly message: Buffer,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk])
      this.parse()
    })
  }
  static connect(port: number, bodyBytes = 0): Promise<Client> {
    const head = bodyBytes > 0 ? `POST /ok HTTP/1.1\r\ncontent-length: ${bodyBytes}\r\n` : 'GET /ok HTTP/1.1\r\n'
    const message = Buffer.concat([
      Buffer.from(`${head}host: bench\r\nauthorization: ${AUTHORIZATION}\r\n\r\n`),
      Buffer.alloc(bodyBytes, 'b'),
    ])
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new Client(socket, message)))
      socket.once('error', reject)
    })
  }
  private parse(): void {
    const end = this.buffered.indexOf('\r\n\r\n')
    if (end < 0) return
    const head = this.buffered.subarray(0, end).toString('latin1')
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
    if (this.buffered.length < end + 4 + length) return
    this.buffered = this.buffered.subarray(end + 4 + length)
    const status = Number(head.slice(9, 12))
    const done = this.waiting
    this.waiting = undefined
    done?.(status)
  }
  request(): Promise<number> {
    return new Promise((resolve) => {
      this.waiting = resolve
      this.socket.write(this.message)
    })
  }
  close(): void {
    this.socket.destroy()
  }
}

async function send(client: Client, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const status = await client.request()
    if (status !== 200) throw new Error(`request answered ${status}, expected 200`)
  }
}

/** Runs callgrind_control's command while requests keep the process running (it acts on its next check). */
async function control(pid: number, flag: string, client: Client): Promise<number> {
  const { spawn } = await import('node:child_process')
  const child = spawn('callgrind_control', [flag, String(pid)], { stdio: 'ignore' })
  let done = false
  const exited = new Promise<void>((resolve) => child.on('exit', () => ((done = true), resolve())))
  let sent = 0
  while (!done) {
    const answered = client.request()
    sent++
    await Promise.race([answered, exited])
    await answered  // one request at a time, also when the command ended first
  }
  return sent
}

// ---- The callgrind file: exclusive instructions per object and per function ------------------------

interface Costs {
  total: number
  byObject: Map<string, number>
  byFunction: Map<string, number>
}

/** V8's perf map: "start size name" per line (hex), sorted by start. */
function readPerfMap(file: string): { start: bigint; end: bigint; name: string }[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[1]}`) + BigInt(`0x${m[2]}`), name: m[3]! }))
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))
}

function jitName(map: { start: bigint; end: bigint; name: string }[], address: string): string | undefined {
  const at = BigInt(address)
  let lo = 0
  let hi = map.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (map[mid]!.end <= at) lo = mid + 1
    else if (map[mid]!.start > at) hi = mid - 1
    else return map[mid]!.name
  }
  return undefined
}

function readCallgrind(file: string, perfMap: { start: bigint; end: bigint; name: string }[]): Costs {
  const names = new Map<string, string>()
  const expand = (kind: string, value: string): string => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(value)
    if (!m) return value
    const key = `${kind}${m[1]}`
    if (m[2] !== undefined) names.set(key, m[2])
    return names.get(key) ?? value
  }
  const lines = fs.readFileSync(file, 'utf8').split('\n')
  // A compressed name is spelled out once, at its first use anywhere in the file (as ob= or cob=,
  // not necessarily before the lines that use it): learn them all first.
  for (const line of lines) {
    const m = /^(c?)(ob|fn|fl|fi|fe)=\((\d+)\) (.*)$/.exec(line)
    if (m) names.set(`${m[2] === 'fi' || m[2] === 'fe' ? 'fl' : m[2]}${m[3]}`, m[4]!)
  }
  const costs: Costs = { total: 0, byObject: new Map(), byFunction: new Map() }
  let object = '?'
  let fn = '?'
  let skipNext = false
  for (const line of lines) {
    if (line.startsWith('ob=')) object = expand('ob', line.slice(3))
    else if (line.startsWith('fn=')) fn = expand('fn', line.slice(3))
    else if (line.startsWith('cob=')) expand('ob', line.slice(4))
    else if (line.startsWith('cfn=')) expand('fn', line.slice(4))
    else if (line.startsWith('fl=') || line.startsWith('fi=') || line.startsWith('fe=')) expand('fl', line.slice(3))
    else if (line.startsWith('cfi=') || line.startsWith('cfl=')) expand('fl', line.slice(4))
    else if (line.startsWith('calls=')) skipNext = true  // the next cost line is the call's inclusive cost
    else if (/^[+\-*\d]/.test(line)) {
      if (skipNext) {
        skipNext = false
        continue
      }
      const ir = Number(line.split(' ')[1] ?? 0)
      costs.total += ir
      const shortObject = path.basename(object)
      // Code outside any file: V8's generated code shows as addresses; named functions there are
      // valgrind's own redirections.
      const address = /^(0x[0-9a-f]+)/.exec(fn)?.[1]
      const where = shortObject === '???' ? (address ? 'JIT' : '???') : shortObject
      costs.byObject.set(where, (costs.byObject.get(where) ?? 0) + ir)
      const name = where === 'JIT' ? `${jitName(perfMap, address!) ?? fn}` : fn
      const key = `${name} [${where}]`
      costs.byFunction.set(key, (costs.byFunction.get(key) ?? 0) + ir)
    }
  }
  return costs
}

/** Object files grouped as the report names them. */
function group(object: string): string {
  if (object === 'JIT') return 'JIT code (V8)'
  if (object === '???') return 'no object (new/delete)'
  if (/^libnode\.so/.test(object)) return 'libnode (V8, Node C++)'
  if (object === 'nodevoy.node' || object === 'libnodevoy.so') return 'libnodevoy'
  if (/^nodevoy-devhost/.test(object)) return 'dev host'
  if (/^libc\.so|^ld-linux/.test(object)) return 'libc, ld.so'
  if (/^libstdc\+\+|^libgcc_s/.test(object)) return 'libstdc++'
  if (/\.so$/.test(object) && !/^lib(c|m|stdc)/.test(object)) return `module ${object}`
  return object
}

// ---- Main ---------------------------------------------------------------------------------------------

async function measure(scenario: (typeof SCENARIOS)[number], dir: string): Promise<Costs & { requests: number }> {
  const outFile = path.join(dir, `${scenario.name.replace(/\W+/g, '-')}.%p.out`)
  const wrapper = path.join(dir, 'devhost-under-callgrind.sh')
  fs.writeFileSync(
    wrapper,
    // glibc copies large blocks with `rep movsb`, which callgrind counts as one instruction per byte (a
    // 64 KiB copy: 65,536): past that size memcpy uses its vector loop here, whose count says what it costs.
    `#!/bin/sh\nGLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=1073741824 exec valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file=${outFile} ${devHost} "$@"\n`,
    { mode: 0o755 },
  )
  const proxy = await startProxy(
    'devhost',
    bootstrap({ filters: await scenario.filters(), routes: [{ prefix: '/', directResponse: { status: 200, body: 'ok' } }] }),
    // --perf-basic-prof: V8 writes /tmp/perf-<pid>.map, which names the JIT code callgrind sees as addresses.
    {
      concurrency: 1,
      logLevel: 'warn',
      devHostBinary: wrapper,
      readyTimeoutMs: 300_000,
      env: { NODEVOY_NODE_OPTIONS: '--perf-basic-prof', ...budgets },
    },
  )
  const pid = proxy.process.pid!
  const perfMap = `/tmp/perf-${pid}.map`
  const client = await Client.connect(proxy.port, scenario.body)
  try {
    await send(client, warmupRequests)
    await control(pid, '-z', client)
    await send(client, requests)
    const during = await control(pid, '-d', client)
    const dumps = fs.readdirSync(dir).filter((f) => f.startsWith(path.basename(outFile).split('%')[0]!) && /\.out\.\d+$/.test(f))
    if (dumps.length !== 1) throw new Error(`expected one callgrind dump, found ${dumps.join(', ') || 'none'}`)
    const costs = readCallgrind(path.join(dir, dumps[0]!), fs.existsSync(perfMap) ? readPerfMap(perfMap) : [])
    // Requests that ran while callgrind_control waited for the process count in full: at most the one
    // during which the dump happened is counted in part.
    return { ...costs, requests: requests + Math.max(0, during - 1) }
  } finally {
    client.close()
    await proxy.stop()
    // With --keep the map stays next to the dump (callgrind_annotate shows JIT code as addresses).
    if (keepDir && fs.existsSync(perfMap)) fs.copyFileSync(perfMap, path.join(dir, `${path.basename(outFile, '.%p.out')}.perf.map`))
    fs.rmSync(perfMap, { force: true })
  }
}

/** utime+stime (clock ticks) and minor faults of the whole process, all threads (/proc/<pid>/stat). */
function processCounters(pid: number): { ticks: number; minorFaults: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')  // from field 3 (state) on
  return { minorFaults: Number(fields[7]), ticks: Number(fields[11]) + Number(fields[12]) }
}

/** --native: CPU and minor page faults per request, without valgrind. */
async function measureNative(scenario: (typeof SCENARIOS)[number]): Promise<{ cpuMicros: number; minorFaults: number }> {
  const proxy = await startProxy(
    'devhost',
    bootstrap({ filters: await scenario.filters(), routes: [{ prefix: '/', directResponse: { status: 200, body: 'ok' } }] }),
    { concurrency: 1, logLevel: 'warn', devHostBinary: devHost },
  )
  const pid = proxy.process.pid!
  const client = await Client.connect(proxy.port, scenario.body)
  try {
    await send(client, warmupRequests)
    const before = processCounters(pid)
    await send(client, requests)
    const after = processCounters(pid)
    const ticksPerSecond = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100)
    return {
      cpuMicros: ((after.ticks - before.ticks) / ticksPerSecond / requests) * 1e6,
      minorFaults: (after.minorFaults - before.minorFaults) / requests,
    }
  } finally {
    client.close()
    await proxy.stop()
  }
}

async function mainNative(): Promise<void> {
  fs.mkdirSync(OUT, { recursive: true })
  const lines = [
    `Dev host process, --concurrency 1, ${requests} keep-alive requests one at a time after ${warmupRequests} warm-up (no valgrind; CPU is noisy on a shared machine)`,
    '',
    '| scenario | CPU µs per request | minor page faults per request |',
    '|---|---|---|',
  ]
  for (const scenario of SCENARIOS.filter((s) => !only || only.some((o) => s.name.startsWith(o)))) {
    log(`${scenario.name}: ${warmupRequests} warm-up requests, then ${requests} measured`)
    const { cpuMicros, minorFaults } = await measureNative(scenario)
    lines.push(`| ${scenario.name} | ${cpuMicros.toFixed(1)} | ${minorFaults.toFixed(2)} |`)
  }
  process.stdout.write(lines.join('\n') + '\n')
}

async function main(): Promise<void> {
  if (native) return mainNative()
  if (spawnSync('valgrind', ['--version']).status !== 0) throw new Error('valgrind not found: apt-get install valgrind')
  fs.mkdirSync(OUT, { recursive: true })
  const dir = keepDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-callgrind-'))
  fs.mkdirSync(dir, { recursive: true })
  const results: { name: string; perRequest: number; groups: Map<string, number>; functions: [string, number][] }[] = []
  for (const scenario of SCENARIOS.filter((s) => !only || only.some((o) => s.name.startsWith(o)))) {
    log(`${scenario.name}: ${warmupRequests} warm-up requests, then ${requests} measured (under callgrind: minutes)`)
    const costs = await measure(scenario, dir)
    const groups = new Map<string, number>()
    for (const [object, ir] of costs.byObject) groups.set(group(object), (groups.get(group(object)) ?? 0) + ir / costs.requests)
    const functions = [...costs.byFunction]
      .map(([name, ir]): [string, number] => [name, ir / costs.requests])
      .sort((a, b) => b[1] - a[1])
      .slice(0, topFunctions)
    results.push({ name: scenario.name, perRequest: costs.total / costs.requests, groups, functions })
  }
  const columns = [...new Set(results.flatMap((r) => [...r.groups].filter(([, v]) => v >= 50).map(([k]) => k)))]
  const round = (n: number | undefined) => (n === undefined ? '0' : Math.round(n).toLocaleString('en-US'))
  const lines = [
    `Instructions per request in the dev host process (callgrind, --concurrency 1, ${requests} keep-alive requests (GETs, or 64 KiB POSTs) one at a time after ${warmupRequests} warm-up; all threads)`,
    '',
    `| scenario | total | ${columns.join(' | ')} |`,
    `|---|---|${columns.map(() => '---').join('|')}|`,
    ...results.map((r) => `| ${r.name} | ${round(r.perRequest)} | ${columns.map((c) => round(r.groups.get(c))).join(' | ')} |`),
  ]
  process.stdout.write(lines.join('\n') + '\n')
  for (const r of results) {
    if (r.functions.length === 0) continue
    process.stdout.write(`\n${r.name}: top functions (exclusive instructions per request)\n`)
    for (const [name, ir] of r.functions) process.stdout.write(`${String(Math.round(ir)).padStart(8)}  ${name.slice(0, 150)}\n`)
  }
  if (!keepDir) fs.rmSync(dir, { recursive: true, force: true })
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
