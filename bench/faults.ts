// The fault suite (issue 11): runs every fault a filter can commit against the dev host and prints
// what happened to the offending request, to the others, and to the proxy; then the load, rebuild,
// fuzz and soak runs. Results: a table on stdout, and bench/results/faults.{json,md}.
//   npm run faults                 the full run (~10 min on a 2-core VM)
//   npm run faults -- --quick      small counts (a smoke run)
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { Agent, request } from 'undici'
import { bootstrap } from '../test/harness/config.js'
import { bundled, nodevoyFilter } from '../test/harness/nodevoy.js'
import { repoRoot } from '../test/harness/paths.js'
import { startProxy, type Proxy } from '../test/harness/proxy.js'
import { startUpstream, type Upstream } from '../test/harness/upstream.js'

const quick = process.argv.includes('--quick')
// --only <text>: run just the scenarios whose name contains text.
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] ?? '' : ''
const selected = (name: string) => only === '' || name.includes(only)
const counts = {
  loadRequests: quick ? 2_000 : 20_000,
  rebuilds: quick ? 10 : 100,
  fuzzCases: quick ? 300 : 3_000,
  fuzzSeconds: quick ? 10 : 60,
  soakRequests: quick ? 50_000 : 1_000_000,
}
const budgets = { NODEVOY_CPU_BUDGET_MS: '50', NODEVOY_LOOP_BUDGET_MS: '200', NODEVOY_NODE_OPTIONS: '--max-old-space-size=128' }

interface Row {
  fault: string
  offending: string
  others: string
  proxyUp: boolean
  detail?: string
}
const rows: Row[] = []
const extra: Record<string, unknown> = {}

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1])
}

async function get(proxy: Proxy, p: string, timeoutMs = 30_000): Promise<{ status: number | string; env?: string; ms: number }> {
  const started = performance.now()
  try {
    const res = await request(`${proxy.url}${p}`, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
    await res.body.text()
    return { status: res.statusCode, env: res.headers['x-env'] as string | undefined, ms: performance.now() - started }
  } catch (error) {
    return { status: `error: ${(error as Error).message}`, ms: performance.now() - started }
  }
}

async function stack(extraEnv: Record<string, string> = {}, settleTimeoutMs = 1000, concurrency = 2): Promise<{ proxy: Proxy; upstream: Upstream; stop(): Promise<number | null> }> {
  const upstream = await startUpstream()
  const bundle = await bundled('test/filters/faults.ts')
  const proxy = await startProxy(
    'devhost',
    bootstrap({ filters: [nodevoyFilter({ name: 'faults', bundle, settleTimeoutMs })], clusters: { backend: [upstream.port] } }),
    { concurrency, env: { ...budgets, ...extraEnv } },
  )
  return {
    proxy,
    upstream,
    async stop() {
      const exit = await proxy.stop()
      await upstream.close()
      return exit.code
    },
  }
}

/** Others: 40 concurrent good requests right after the fault (both workers). */
async function others(proxy: Proxy): Promise<string> {
  const results = await Promise.all(Array.from({ length: 40 }, () => get(proxy, '/ok')))
  const good = results.filter((r) => r.status === 200).length
  return `${good}/40 ok`
}

async function stat(proxy: Proxy, name: string): Promise<number> {
  try {
    return (await proxy.stat(name)) ?? 0
  } catch {
    return Number.NaN  // the proxy is gone
  }
}

async function fault(name: string, p: string, note?: string): Promise<void> {
  if (!selected(name)) return
  console.error(`fault: ${name}`)
  const s = await stack()
  const before = await get(s.proxy, '/ok')
  const offending = await get(s.proxy, p)
  await new Promise((r) => setTimeout(r, 400))  // background faults (timers) take effect
  let after = await others(s.proxy)
  if (!after.startsWith('40/')) after = `${after}; then ${await others(s.proxy)}`
  const rebuilt = await stat(s.proxy, 'dynamicmodulescustom.nodevoy_environment_rebuilds')
  const up = s.proxy.process.exitCode === null
  const logs = s.proxy.logs()
  const code = await s.stop()
  if (!up || code !== 0) console.error(`the proxy ${up ? `exited with ${code} on SIGTERM` : 'died'}:\n${logs.slice(-4000)}`)
  rows.push({
    fault: name,
    offending: `${offending.status} in ${offending.ms.toFixed(0)} ms`,
    others: `${after}${rebuilt ? `; environment rebuilt (${rebuilt})` : ''}`,
    proxyUp: up && code === 0,
    detail: note,
  })
  void before
}

async function loadWithFaults(): Promise<void> {
  // Half the run without faulty requests, half with 1% of them looping in the hook.
  const s = await stack({}, 1000, 2)
  const agent = new Agent({ connections: 32 })
  const run = async (faultyEvery: number) => {
    const latencies: number[] = []
    let failedGood = 0
    let next = 0
    const worker = async () => {
      for (;;) {
        const i = next++
        if (i >= counts.loadRequests) return
        const faulty = faultyEvery > 0 && i % faultyEvery === 0
        const started = performance.now()
        try {
          const res = await request(`${s.proxy.url}${faulty ? '/loop-sync' : '/ok'}`, { dispatcher: agent })
          await res.body.text()
          if (!faulty) {
            if (res.statusCode === 200) latencies.push(performance.now() - started)
            else failedGood++
          }
        } catch {
          if (!faulty) failedGood++
        }
      }
    }
    await Promise.all(Array.from({ length: 32 }, worker))
    latencies.sort((a, b) => a - b)
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!
    return { p50: pct(0.5), p99: pct(0.99), good: latencies.length, failedGood }
  }
  await run(0)  // warm-up
  const clean = await run(0)
  const faulty = await run(100)
  await agent.close()
  const code = await s.stop()
  extra.load = { clean, faulty }
  rows.push({
    fault: `1% of ${counts.loadRequests} requests loop (32 concurrent, 2 workers)`,
    offending: '500 each (CPU budget)',
    others: `good p50 ${clean.p50.toFixed(1)} -> ${faulty.p50.toFixed(1)} ms, p99 ${clean.p99.toFixed(1)} -> ${faulty.p99.toFixed(1)} ms; ${faulty.failedGood} good failed`,
    proxyUp: code === 0,
  })
}

async function repeatedRebuilds(): Promise<void> {
  const s = await stack({}, 1000, 1)
  const rss: number[] = []
  let env = (await get(s.proxy, '/ok')).env
  const started = performance.now()
  for (let i = 0; i < counts.rebuilds; i++) {
    await get(s.proxy, '/loop-timer')
    for (let tries = 0; tries < 200; tries++) {
      const r = await get(s.proxy, '/ok')
      if (r.status === 200 && r.env !== env) {
        env = r.env
        break
      }
      await new Promise((res) => setTimeout(res, 20))
    }
    if (i === 9 || i === counts.rebuilds - 1) rss.push(rssKiB(s.proxy.process.pid!))
  }
  const seconds = (performance.now() - started) / 1000
  const rebuilt = await stat(s.proxy, 'dynamicmodulescustom.nodevoy_environment_rebuilds')
  const code = await s.stop()
  extra.rebuilds = { rebuilt, rssKiB: rss, seconds }
  rows.push({
    fault: `${counts.rebuilds} environment rebuilds in a row`,
    offending: `${rebuilt} rebuilt, ${(seconds / counts.rebuilds * 1000).toFixed(0)} ms each (fault + rebuild)`,
    others: `RSS after 10: ${(rss[0]! / 1024).toFixed(1)} MiB, after ${counts.rebuilds}: ${(rss.at(-1)! / 1024).toFixed(1)} MiB`,
    proxyUp: code === 0,
  })
}

function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

async function fuzzBinding(): Promise<void> {
  const upstream = await startUpstream()
  const bundle = await bundled('test/filters/fuzz.ts')
  const proxy = await startProxy('devhost', bootstrap({ filters: [nodevoyFilter({ name: 'fuzz', bundle })], clusters: { backend: [upstream.port] } }), {
    concurrency: 2,
  })
  const value = fc.oneof(
    fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 8 }),
    fc.constantFrom('x-a', ':path', ':status', 'content-length', '', 'ns', 'key', 'trace', 'error'),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 }), { maxKeys: 2 }),
  )
  const op = fc.record({
    op: fc.constantFrom('set', 'add', 'remove', 'reply', 'metadata.set', 'metadata.get', 'filterState.set', 'filterState.get', 'body.replace', 'continue', 'log', 'trailers.set'),
    args: fc.array(value, { maxLength: 4 }),
  })
  let answered = 0
  let calls = 0
  const outcomes = new Map<string, number>()
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 6 }), async (ops) => {
      const res = await request(`${proxy.url}/fuzz`, { headers: { 'x-ops': asciiJson(ops) }, headersTimeout: 10_000 })
      const text = await res.body.text()
      answered++
      calls += ops.length
      if (res.statusCode === 200 && text.startsWith('[')) {
        for (const outcome of JSON.parse(text) as string[]) outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
      }
      if (proxy.process.exitCode !== null) throw new Error('the proxy exited')
      return true
    }),
    { numRuns: counts.fuzzCases },
  )
  const violations = await stat(proxy, 'devhost.abi_violation')
  const code = await proxy.stop()
  await upstream.close()
  extra.fuzzBinding = { cases: counts.fuzzCases, calls, outcomes: Object.fromEntries(outcomes), violations }
  rows.push({
    fault: `fuzz: ${counts.fuzzCases} requests x random SDK calls with random values (${calls} calls)`,
    offending: `${answered}/${counts.fuzzCases} answered`,
    others: `outcomes: ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(', ')}; ABI violations ${violations}`,
    proxyUp: code === 0,
  })
}

function fuzzNative(): void {
  const out = path.join(repoRoot, 'out', 'fuzz')
  fs.mkdirSync(out, { recursive: true })
  const clang = ['clang++-14', 'clang++'].find((c) => spawnSync(c, ['--version']).status === 0)
  if (!clang) {
    spawnSync('apt-get', ['install', '-y', '-qq', 'clang-14', 'libclang-rt-14-dev'], { stdio: 'ignore' })
  }
  const compiler = ['clang++-14', 'clang++'].find((c) => spawnSync(c, ['--version']).status === 0)
  if (!compiler) {
    rows.push({ fault: 'libFuzzer on filter_config, header rules, stream tokens', offending: 'not run', others: 'clang-14 is not installable here', proxyUp: true })
    return
  }
  const bin = path.join(out, 'fuzz_native')
  const host = path.join(repoRoot, 'host')
  const build = spawnSync(
    compiler,
    ['-std=c++20', '-g', '-O1', '-fsanitize=fuzzer,address,undefined', '-fno-sanitize-recover=undefined', `-I${host}/module`, `-I${host}/abi`,
      `${host}/tests/fuzz_native.cc`, `${host}/module/filter_config_json.cc`, `${host}/module/header_rules.cc`, `${host}/module/stream_table.cc`, '-o', bin],
    { encoding: 'utf8' },
  )
  if (build.status !== 0) {
    rows.push({ fault: 'libFuzzer on filter_config, header rules, stream tokens', offending: 'build failed', others: build.stderr.slice(0, 300), proxyUp: true })
    return
  }
  const corpus = path.join(out, 'corpus')
  fs.mkdirSync(corpus, { recursive: true })
  const run = spawnSync(bin, [corpus, `-max_total_time=${counts.fuzzSeconds}`, '-print_final_stats=1'], { encoding: 'utf8' })
  const executions = /stat::number_of_executed_units:\s+(\d+)/.exec(run.stderr)?.[1] ?? '?'
  extra.fuzzNative = { seconds: counts.fuzzSeconds, executions, exit: run.status }
  rows.push({
    fault: `libFuzzer (ASan+UBSan) ${counts.fuzzSeconds} s: filter_config, header rules, stream tokens`,
    offending: run.status === 0 ? `${executions} inputs, 0 crashes` : `CRASH (exit ${run.status}): ${run.stderr.split('\n').slice(-5).join(' ')}`,
    others: '-',
    proxyUp: run.status === 0,
  })
}

async function soak(): Promise<void> {
  const s = await stack({}, 1000, 2)
  const agent = new Agent({ connections: 64, pipelining: 1 })
  const total = counts.soakRequests
  const warmup = Math.floor(total / 10)
  let next = 0
  let failed = 0
  let warmRss = 0
  const started = performance.now()
  const worker = async () => {
    for (;;) {
      const i = next++
      if (i >= total) return
      if (i === warmup) warmRss = rssKiB(s.proxy.process.pid!)
      try {
        const res = await request(`${s.proxy.url}/ok`, { dispatcher: agent })
        await res.body.dump()
        if (res.statusCode !== 200) failed++
      } catch {
        failed++
      }
    }
  }
  await Promise.all(Array.from({ length: 64 }, worker))
  const seconds = (performance.now() - started) / 1000
  const endRss = rssKiB(s.proxy.process.pid!)
  await agent.close()
  const code = await s.stop()
  const drift = ((endRss - warmRss) / warmRss) * 100
  extra.soak = { total, failed, seconds, warmRssKiB: warmRss, endRssKiB: endRss, driftPercent: drift }
  rows.push({
    fault: `soak: ${total} requests, 2 workers, 64 connections`,
    offending: `${failed} failed, ${(total / seconds).toFixed(0)} req/s`,
    others: `RSS after warm-up ${(warmRss / 1024).toFixed(1)} MiB -> end ${(endRss / 1024).toFixed(1)} MiB (${drift >= 0 ? '+' : ''}${drift.toFixed(2)} %)`,
    proxyUp: code === 0,
  })
}

async function main(): Promise<void> {
  await fault('while (true) in a hook', '/loop-sync')
  await fault('while (true) after an await (a microtask)', '/loop-async', 'answered at the settle timeout (1 s here)')
  await fault('an endless microtask chain', '/loop-microtasks', 'answered at the settle timeout')
  await fault('a nextTick callback that re-queues itself', '/loop-ticks', 'its environment is rebuilt')
  await fault('while (true) in a timer, outside any hook', '/loop-timer', 'its environment is rebuilt')
  await fault('while (true) in onStreamComplete', '/loop-complete')
  await fault('heap blow-up, fast (one hook allocating)', '/heap-fast', 'its environment is rebuilt')
  await fault('a promise that never settles', '/never-settles', 'answered at the settle timeout (504)')
  await fault("a 'stop' never continued", '/never-continues', 'answered at the settle timeout (504)')
  if (selected('heap blow-up, slow')) {
    const s = await stack({}, 1000, 1)
    let env = (await get(s.proxy, '/ok')).env
    let n = 0
    let failed = 0
    while (n < 500) {
      const r = await get(s.proxy, '/heap-slow')
      n++
      if (r.status !== 200) failed++
      if (r.env && r.env !== env) break
    }
    const code = await s.stop()
    rows.push({ fault: 'heap blow-up, slow (a cache growing ~4 MB per request)', offending: `rebuilt after ${n} requests, ${failed} failed`, others: '-', proxyUp: code === 0 })
    void env
  }
  if (selected('1% of')) await loadWithFaults()
  if (selected('rebuilds in a row')) await repeatedRebuilds()
  if (selected('fuzz: ')) await fuzzBinding()
  if (selected('libFuzzer')) fuzzNative()
  if (selected('soak')) await soak()

  const header = ['fault', 'the offending request', 'the others', 'proxy up']
  const lines = [header, ...rows.map((r) => [r.fault + (r.detail ? ` (${r.detail})` : ''), r.offending, r.others, r.proxyUp ? 'yes' : 'NO'])]
  const widths = header.map((_, i) => Math.min(70, Math.max(...lines.map((l) => l[i]!.length))))
  for (const line of lines) console.log(line.map((cell, i) => cell.padEnd(widths[i]!)).join(' | '))
  const results = path.join(repoRoot, 'bench', 'results')
  fs.mkdirSync(results, { recursive: true })
  fs.writeFileSync(path.join(results, 'faults.json'), JSON.stringify({ quick, counts, rows, extra }, null, 2) + '\n')
  const md = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...lines.slice(1).map((l) => `| ${l.join(' | ')} |`)].join('\n')
  fs.writeFileSync(path.join(results, 'faults.md'), `# Fault suite (${quick ? 'quick' : 'full'} run, ${new Date().toISOString()})\n\n${md}\n`)
  process.exit(rows.every((r) => r.proxyUp) ? 0 : 1)
}

void main()
