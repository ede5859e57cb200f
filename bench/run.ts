// `npm run bench`: builds everything, then measures, in one run and interleaved, what a filter costs
// on the dev host at --concurrency 1 (the proxy pinned to CPU 0, the load generator on CPU 1) and 2,
// next to NGINX with the same basic-auth in njs and in Lua. Prints the table and writes JSON and
// Markdown under bench/results/.
//
// Each scenario: maximum req/s (closed loop, fixed connections), CPU µs per request (the proxy's
// CPU over exactly the measured requests, from /proc), latency p50/p99 at a fixed open-loop rate
// below the knee (scheduled requests, latency from the scheduled time), RSS. Every scenario runs in
// every round, in rotated order, so slow drifts of a shared machine hit all of them alike.
//
// Usage: tsx bench/run.ts [--rounds N] [--seconds S] [--concurrency 1,2] [--only a,b] [--no-peers]
//                         [--no-build] [--no-micro] [--no-pin] [--out dir] [--smoke]
// --smoke: no build, one round of 0.3 s, three scenarios, no peers (a check that the bench works).
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { bundleFilter } from '../scripts/bundle.js'
import { bootstrap, type ModuleFilterDef } from '../test/harness/config.js'
import { nodevoyFilter } from '../test/harness/nodevoy.js'
import { repoRoot } from '../test/harness/paths.js'
import { startProxy, type Proxy } from '../test/harness/proxy.js'
import { runMicro, type MicroResult } from './micro.js'
import { ensureNginx, nginxVersion, startNginx, type NginxServer, type NginxVariant } from './nginx.js'

const USERNAME = 'alice'
const PASSWORD = 'wonderland'
const AUTHORIZATION = `authorization: Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64')}`
const BODY_BYTES = 64 * 1024
const CONNECTIONS = 16
const OUT = path.join(repoRoot, 'out', 'bench')

// ---- Arguments -------------------------------------------------------------------------------------

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const smoke = process.argv.includes('--smoke')
const rounds = Number(argValue('--rounds') ?? (smoke ? 1 : 5))
const seconds = Number(argValue('--seconds') ?? (smoke ? 0.3 : 1))
const warmup = smoke ? 0.5 : 0.3
const concurrencies = (argValue('--concurrency') ?? (smoke ? '1' : '1,2')).split(',').map(Number)
const only = argValue('--only')?.split(',')
const withPeers = !smoke && !process.argv.includes('--no-peers')
const build = !smoke && !process.argv.includes('--no-build')
const withMicro = !smoke && !process.argv.includes('--no-micro')
const allowPin = !process.argv.includes('--no-pin')
const resultsDir = argValue('--out') ?? path.join(repoRoot, 'bench', 'results')

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`)

// ---- Scenarios -------------------------------------------------------------------------------------

interface Scenario {
  name: string
  /** Which scenario this one's ratios are against (the same proxy and request, no filter). */
  baseline?: string
  /** Scenarios of a group share one open-loop rate (below the slowest one's knee). */
  group: 'get' | 'body'
  /** The C floor this one's added cost is compared with. */
  floor?: string
  proxy: { kind: 'devhost'; filters: () => Promise<ModuleFilterDef[]> } | { kind: 'nginx'; variant: NginxVariant }
  body?: number
}

const bundles = new Map<string, string>()
async function tsFilter(name: string, entry: string, config?: unknown): Promise<ModuleFilterDef[]> {
  let bundle = bundles.get(entry)
  if (!bundle) {
    bundle = path.join(OUT, `${path.basename(path.dirname(entry)) === 'filters' ? path.basename(entry, '.ts') : path.basename(path.dirname(entry))}.js`)
    await bundleFilter(path.join(repoRoot, entry), bundle)
    bundles.set(entry, bundle)
  }
  return [nodevoyFilter({ name, bundle, ...(config !== undefined ? { config } : {}) })]
}
const cFilter = (module: string, config?: Record<string, unknown>): ModuleFilterDef[] => [
  { name: module, module, ...(config ? { config } : {}) },
]
const credentials = { username: USERNAME, password: PASSWORD }

const ALL_SCENARIOS: Scenario[] = [
  { name: 'none', group: 'get', proxy: { kind: 'devhost', filters: async () => [] } },
  { name: 'C noop', baseline: 'none', group: 'get', proxy: { kind: 'devhost', filters: async () => cFilter('noop') } },
  {
    name: 'C basic_auth',
    baseline: 'none',
    group: 'get',
    proxy: { kind: 'devhost', filters: async () => cFilter('basic_auth', credentials) },
  },
  {
    name: 'TS basic-auth',
    baseline: 'none',
    floor: 'C basic_auth',
    group: 'get',
    proxy: { kind: 'devhost', filters: () => tsFilter('basic-auth', 'examples/basic-auth/filter.ts', credentials) },
  },
  {
    name: 'TS async (await resolved)',
    baseline: 'none',
    floor: 'C noop',
    group: 'get',
    proxy: { kind: 'devhost', filters: () => tsFilter('async-resolved', 'bench/filters/async-resolved.ts') },
  },
  {
    name: 'TS set response header',
    baseline: 'none',
    floor: 'C noop',
    group: 'get',
    proxy: { kind: 'devhost', filters: () => tsFilter('set-response-header', 'bench/filters/set-response-header.ts') },
  },
  // Not "no filter": a direct response starts when the headers reach the router, before the body, and
  // Envoy (so the dev host) then closes the HTTP/1 connection. The C buffer filter holds the request
  // until its body is in, as the TS body reader does.
  {
    name: 'C buffer, 64 KiB POST',
    group: 'body',
    body: BODY_BYTES,
    proxy: { kind: 'devhost', filters: async () => cFilter('buffer') },
  },
  {
    name: 'TS read 64 KiB body',
    baseline: 'C buffer, 64 KiB POST',
    group: 'body',
    body: BODY_BYTES,
    proxy: { kind: 'devhost', filters: () => tsFilter('read-body', 'bench/filters/read-body.ts') },
  },
  { name: 'NGINX', group: 'get', proxy: { kind: 'nginx', variant: 'plain' } },
  { name: 'NGINX njs basic-auth', baseline: 'NGINX', group: 'get', proxy: { kind: 'nginx', variant: 'njs' } },
  { name: 'NGINX Lua basic-auth', baseline: 'NGINX', group: 'get', proxy: { kind: 'nginx', variant: 'lua' } },
]

const SMOKE_SCENARIOS = ['none', 'C basic_auth', 'TS basic-auth']

// ---- Processes -------------------------------------------------------------------------------------

function run(command: string, args: string[], opts: { cwd?: string } = {}): void {
  log(`$ ${command} ${args.join(' ')}`)
  const result = spawnSync(command, args, { cwd: opts.cwd ?? repoRoot, stdio: ['ignore', 'inherit', 'inherit'] })
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status})`)
}

/** Pins every thread of pid to cpus (taskset -a: threads made later inherit it). */
function pin(pid: number, cpus: string): void {
  const result = spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`taskset -a -p -c ${cpus} ${pid} failed: ${result.stderr}`)
}

function rssKb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
  } catch {
    return 0
  }
}

interface Running {
  scenario: Scenario
  port: number
  pids(): number[]
  /** RSS of the process(es) serving (NGINX: master and workers), kB. */
  rssKb(): number
  stop(): Promise<void>
}

async function startScenario(scenario: Scenario, concurrency: number): Promise<Running> {
  if (scenario.proxy.kind === 'nginx') {
    const server: NginxServer = await startNginx(scenario.proxy.variant, concurrency, USERNAME, PASSWORD)
    return {
      scenario,
      port: server.port,
      pids: server.pids,
      rssKb: () => server.pids().reduce((sum, pid) => sum + rssKb(pid), 0),
      stop: server.stop,
    }
  }
  const proxy: Proxy = await startProxy(
    'devhost',
    bootstrap({ filters: await scenario.proxy.filters(), routes: [{ prefix: '/', directResponse: { status: 200, body: 'ok' } }] }),
    { concurrency, logLevel: 'warn' },
  )
  return {
    scenario,
    port: proxy.port,
    pids: () => [proxy.process.pid!],
    rssKb: () => rssKb(proxy.process.pid!),
    stop: async () => void (await proxy.stop()),
  }
}

interface LoadResult {
  mode: 'open' | 'closed'
  rps: number
  requests: number
  errors: number
  reconnects: number
  status: Record<string, number>
  latency_us: { p50: number; p90: number; p99: number; p999: number; max: number }
  cpu: { run_ns: number; user_ms: number; system_ms: number }
}

async function load(target: Running, opts: { rate?: number; duration: number; pinned: boolean }): Promise<LoadResult> {
  const args = [
    '-p', String(target.port), '-c', String(CONNECTIONS), '-d', String(opts.duration), '-w', String(warmup),
    '-u', '/ok', '-H', AUTHORIZATION,
    ...(target.scenario.body ? ['-m', 'POST', '-b', String(target.scenario.body)] : []),
    ...(opts.rate ? ['-R', String(opts.rate)] : []),
    ...target.pids().flatMap((pid) => ['-P', String(pid)]),
  ]
  const bin = path.join(OUT, 'loadgen')
  const [command, argv] = opts.pinned ? ['taskset', ['-c', '1', bin, ...args]] : [bin, args]
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.on('exit', (code) => {
      let result: LoadResult
      try {
        result = JSON.parse(out) as LoadResult
      } catch {
        return reject(new Error(`loadgen failed for ${target.scenario.name} (exit ${code}): ${err}${out}`))
      }
      if (result.requests === 0) {
        // Exit 1: nothing completed in the window (a starved machine); the round counts as missing.
        log(`${target.scenario.name}: no request completed in ${opts.duration} s (${result.mode} loop); round left out`)
      }
      const bad = result.requests - (result.status['2xx'] ?? 0)
      if (bad > 0 || result.errors > 0) {
        return reject(new Error(`${target.scenario.name}: ${bad} responses were not 2xx and ${result.errors} failed: ${out}`))
      }
      resolve(result)
    })
  })
}

// ---- Statistics --------------------------------------------------------------------------------------

const median = (all: number[]): number => {
  const s = all.filter(Number.isFinite).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

interface Round {
  rps: number
  cpuUsPerRequest: number
  userShare: number
  p50Us: number
  p99Us: number
  openRps: number
}

interface ScenarioResult {
  name: string
  concurrency: number
  baseline?: string
  floor?: string
  rate: number
  rounds: Round[]
  rssMb: number
  median: { rps: number; cpuUsPerRequest: number; p50Us: number; p99Us: number }
  min: { rps: number; cpuUsPerRequest: number }
  max: { rps: number; cpuUsPerRequest: number }
}

// ---- The run -------------------------------------------------------------------------------------------

async function measureConcurrency(scenarios: Scenario[], concurrency: number): Promise<ScenarioResult[]> {
  const pinned = allowPin && concurrency === 1 && os.cpus().length >= 2
  log(`--concurrency ${concurrency}: starting ${scenarios.length} proxies${pinned ? ' (pinned to CPU 0, load on CPU 1)' : ''}`)
  const running: Running[] = []
  try {
    for (const scenario of scenarios) {
      const r = await startScenario(scenario, concurrency)
      if (pinned) for (const pid of r.pids()) pin(pid, '0')
      running.push(r)
    }
    // Calibration (also the JIT's warm-up): each scenario's maximum, for the open-loop rate of its group.
    const calibrated = new Map<string, number>()
    for (const r of running) {
      const result = await load(r, { duration: Math.max(seconds / 2, 0.2), pinned })
      calibrated.set(r.scenario.name, result.rps)
    }
    const rates = new Map<string, number>()
    for (const group of ['get', 'body'] as const) {
      const maxima = running
        .filter((r) => r.scenario.group === group)
        .map((r) => calibrated.get(r.scenario.name)!)
        .filter((rps) => rps > 0)
      if (maxima.length > 0) rates.set(group, Math.max(50, Math.round((Math.min(...maxima) * 0.5) / 50) * 50))
    }
    log(`open-loop rates: ${[...rates].map(([g, r]) => `${g} ${r} req/s`).join(', ')}`)
    const rounds_: Map<string, Round[]> = new Map(running.map((r) => [r.scenario.name, []]))
    for (let round = 0; round < rounds; round++) {
      // Rotate the order each round.
      const order = running.map((_, i) => running[(i + round) % running.length]!)
      for (const r of order) {
        const closed = await load(r, { duration: seconds, pinned })
        const open = await load(r, { duration: seconds, pinned, rate: rates.get(r.scenario.group) ?? 100 })
        const cpuMs = closed.cpu.user_ms + closed.cpu.system_ms
        rounds_.get(r.scenario.name)!.push({
          rps: closed.requests > 0 ? closed.rps : NaN,
          cpuUsPerRequest: closed.requests > 0 ? closed.cpu.run_ns / 1000 / closed.requests : NaN,
          userShare: cpuMs > 0 ? closed.cpu.user_ms / cpuMs : 0,
          p50Us: open.requests > 0 ? open.latency_us.p50 : NaN,
          p99Us: open.requests > 0 ? open.latency_us.p99 : NaN,
          openRps: open.rps,
        })
      }
      log(`--concurrency ${concurrency}: round ${round + 1}/${rounds} done`)
    }
    return running.map((r) => {
      const rs = rounds_.get(r.scenario.name)!
      const rpss = rs.map((x) => x.rps).filter(Number.isFinite)
      const cpus = rs.map((x) => x.cpuUsPerRequest).filter(Number.isFinite)
      return {
        name: r.scenario.name,
        concurrency,
        ...(r.scenario.baseline ? { baseline: r.scenario.baseline } : {}),
        ...(r.scenario.floor ? { floor: r.scenario.floor } : {}),
        rate: rates.get(r.scenario.group) ?? 100,
        rounds: rs,
        rssMb: r.rssKb() / 1024,
        median: { rps: median(rpss), cpuUsPerRequest: median(cpus), p50Us: median(rs.map((x) => x.p50Us)), p99Us: median(rs.map((x) => x.p99Us)) },
        min: { rps: Math.min(...rpss), cpuUsPerRequest: Math.min(...cpus) },
        max: { rps: Math.max(...rpss), cpuUsPerRequest: Math.max(...cpus) },
      }
    })
  } finally {
    for (const r of running) await r.stop().catch(() => undefined)
  }
}

// ---- Report ---------------------------------------------------------------------------------------------

function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '–'
}

function table(results: ScenarioResult[], allResults: ScenarioResult[]): string {
  const byName = new Map(results.map((r) => [r.name, r]))
  const head =
    '| scenario | max req/s (median; min–max) | × baseline | CPU µs/req (median; min–max) | added µs vs baseline | added µs vs C floor | p50 µs | p99 µs | at req/s | RSS MB | RSS per worker MB |'
  const sep = '|' + head.split('|').slice(1, -1).map(() => '---').join('|') + '|'
  const lines = [head, sep]
  for (const r of results) {
    const base = r.baseline ? byName.get(r.baseline) : undefined
    const floor = r.floor ? byName.get(r.floor) : undefined
    const floorAdded = floor && floor.baseline ? floor.median.cpuUsPerRequest - byName.get(floor.baseline)!.median.cpuUsPerRequest : undefined
    const added = base ? r.median.cpuUsPerRequest - base.median.cpuUsPerRequest : undefined
    const other = allResults.filter((x) => x.name === r.name && x.concurrency !== r.concurrency)
    const c1 = allResults.find((x) => x.name === r.name && x.concurrency === 1)
    const c2 = allResults.find((x) => x.name === r.name && x.concurrency === 2)
    const perWorker = c1 && c2 && other.length > 0 ? c2.rssMb - c1.rssMb : undefined
    lines.push(
      `| ${r.name} | ${fmt(r.median.rps, 0)} (${fmt(r.min.rps, 0)}–${fmt(r.max.rps, 0)}) | ${base ? fmt(r.median.rps / base.median.rps, 3) : '—'} | ` +
        `${fmt(r.median.cpuUsPerRequest, 2)} (${fmt(r.min.cpuUsPerRequest, 2)}–${fmt(r.max.cpuUsPerRequest, 2)}) | ` +
        `${added !== undefined ? (added >= 0 ? '+' : '') + fmt(added, 2) : '—'} | ` +
        `${added !== undefined && floorAdded !== undefined ? (added - floorAdded >= 0 ? '+' : '') + fmt(added - floorAdded, 2) : '—'} | ` +
        `${fmt(r.median.p50Us, 0)} | ${fmt(r.median.p99Us, 0)} | ${r.rate} | ${fmt(r.rssMb, 1)} | ${perWorker !== undefined ? fmt(perWorker, 1) : '—'} |`,
    )
  }
  return lines.join('\n')
}

function microTable(micro: MicroResult[]): string {
  const lines = ['| crossing | ns per operation | bytes handed to the module per stream |', '|---|---|---|']
  for (const m of micro) lines.push(`| ${m.name} | ${fmt(m.ns, 0)} | ${m.bytes !== undefined ? m.bytes : '—'} |`)
  return lines.join('\n')
}

function machine(): Record<string, unknown> {
  const load = os.loadavg()
  return {
    cpu: os.cpus()[0]?.model,
    cpus: os.cpus().length,
    kernel: os.release(),
    node: process.version,
    loadavg: load.map((l) => Number(l.toFixed(2))),
    nginx: withPeers ? nginxVersion() : undefined,
  }
}

// ---- Main -------------------------------------------------------------------------------------------------

const started = Date.now()
fs.mkdirSync(OUT, { recursive: true })
if (build) run('npm', ['run', 'build:native'])
run('cc', ['-O2', '-Wall', '-o', path.join(OUT, 'loadgen'), 'bench/loadgen.c'])
let peerProblem: string | null = withPeers ? ensureNginx(log) : 'NGINX peers skipped (--no-peers or --smoke)'
if (peerProblem) log(peerProblem)
let scenarios = ALL_SCENARIOS.filter((s) => (peerProblem ? s.proxy.kind === 'devhost' : true))
if (smoke) scenarios = scenarios.filter((s) => SMOKE_SCENARIOS.includes(s.name))
if (only) scenarios = scenarios.filter((s) => only.includes(s.name) || s.name === 'none' || only.some((o) => s.name.startsWith(o)))
// A baseline or floor named by a chosen scenario comes along.
for (const s of [...scenarios]) {
  for (const dep of [s.baseline, s.floor]) {
    const d = ALL_SCENARIOS.find((x) => x.name === dep)
    if (d && !scenarios.includes(d)) scenarios.push(d)
  }
}
scenarios = ALL_SCENARIOS.filter((s) => scenarios.includes(s))
let micro: MicroResult[] = []
if (withMicro) micro = await runMicro(OUT, log, { runs: 3 })
const results: ScenarioResult[] = []
for (const concurrency of concurrencies) results.push(...(await measureConcurrency(scenarios, concurrency)))

const info = machine()
const header =
  `nodevoy bench: ${rounds} interleaved rounds, ${seconds} s per measurement, ${CONNECTIONS} connections, GET /ok with a valid ` +
  `Authorization (64 KiB POST for the body group, whose baseline is the C buffer filter); dev host direct response "ok"; NGINX static 2-byte file.\n` +
  `Machine: ${info.cpu}, ${info.cpus} CPUs, kernel ${info.kernel}, load average at the end ${(info.loadavg as number[]).join(' ')} ` +
  `(shared machine: req/s and latency are noisy; CPU µs per request is the steadier figure).`
let markdown = `# nodevoy bench\n\n${header}\n`
for (const concurrency of concurrencies) {
  const rs = results.filter((r) => r.concurrency === concurrency)
  markdown += `\n## --concurrency ${concurrency}${concurrency === 1 ? ' (proxy pinned to CPU 0, load generator on CPU 1)' : ' (proxy and load generator share both CPUs)'}\n\n`
  markdown += table(rs, results) + '\n'
}
if (micro.length > 0) {
  markdown += `\n## Crossings (in-process: bench/hook_crossing.cc plays Envoy; median of ${micro[0]?.runs ?? 1} runs)\n\n${microTable(micro)}\n`
}
if (peerProblem) markdown += `\n${peerProblem}\n`
markdown += `\nTotal bench time ${((Date.now() - started) / 1000).toFixed(0)} s.\n`
process.stdout.write(markdown)
if (!smoke) {
  fs.mkdirSync(resultsDir, { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  fs.writeFileSync(path.join(resultsDir, `bench-${stamp}.json`), JSON.stringify({ machine: info, rounds, seconds, connections: CONNECTIONS, results, micro }, null, 2))
  fs.writeFileSync(path.join(resultsDir, `bench-${stamp}.md`), markdown)
  fs.writeFileSync(path.join(resultsDir, 'latest.md'), markdown)
  log(`results: ${path.relative(repoRoot, resultsDir)}/bench-${stamp}.{json,md}`)
}
