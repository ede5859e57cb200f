// The crossing micro-benchmarks of `npm run bench`: bench/hook_crossing.cc plays Envoy in-process
// (no network, no dev host), so each figure is libnodevoy + the SDK alone. Operations are measured as
// the difference between a per-stream run doing the operation and one that does not (the micro
// filter's `noop`); the hook call itself on one live stream. Also: the bytes Envoy hands to the
// module per stream for each end-to-end scenario's filter (header maps read, body bytes read).
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { bundleFilter } from '../scripts/bundle.js'
import { libnodeDir, nodevoyModule, repoRoot } from '../test/harness/paths.js'

export interface MicroResult {
  name: string
  /** ns per operation (median over runs). */
  ns: number
  /** Bytes handed to the module per stream (header and body callbacks), where it says something. */
  bytes?: number
  runs: number
}

const BODY = 64 * 1024
const CREDENTIALS = '{"username":"alice","password":"wonderland"}'

interface Spec {
  bundle: string
  filter: string
  config?: string
  mode: 'same-stream' | 'stream'
  body?: number
  iterations: number
  /** Another stream stays open throughout (the worker never has zero live streams). */
  keep?: boolean
}

function once(bin: string, spec: Spec): { ns: number; bytes: number } {
  const args = [
    '--module', nodevoyModule, '--bundle', spec.bundle, '--filter', spec.filter, '--mode', spec.mode,
    '--iterations', String(spec.iterations), '--json',
    ...(spec.config ? ['--config', spec.config] : []),
    ...(spec.body ? ['--body', String(spec.body)] : []),
    ...(spec.keep ? ['--keep'] : []),
  ]
  const result = spawnSync(bin, args, {
    encoding: 'utf8',
    env: { ...process.env, LD_LIBRARY_PATH: [libnodeDir, process.env.LD_LIBRARY_PATH ?? ''].filter(Boolean).join(':') },
  })
  if (result.status !== 0) throw new Error(`hook_crossing ${args.join(' ')} failed (${result.status}): ${result.stderr}`)
  const line = result.stdout.trim().split('\n').pop()!
  return JSON.parse(line) as { ns: number; bytes: number }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export async function runMicro(out: string, log: (line: string) => void, opts: { runs?: number; scale?: number } = {}): Promise<MicroResult[]> {
  const runs = opts.runs ?? 5
  const scale = opts.scale ?? 1
  const bin = path.join(out, 'hook_crossing')
  const build = spawnSync('g++', ['-std=c++17', '-O2', '-rdynamic', '-Ihost/abi', 'bench/hook_crossing.cc', '-o', bin, '-ldl'], {
    cwd: repoRoot,
    encoding: 'utf8',
  })
  if (build.status !== 0) throw new Error(`building hook_crossing failed: ${build.stderr}`)
  const bundle = async (entry: string, name: string) => {
    const file = path.join(out, `micro-${name}.js`)
    await bundleFilter(path.join(repoRoot, entry), file)
    return file
  }
  const micro = await bundle('bench/filters/micro.ts', 'micro')
  const noop = await bundle('bench/filters/noop.ts', 'noop')
  const basicAuth = await bundle('examples/basic-auth/filter.ts', 'basic-auth')
  const asyncResolved = await bundle('bench/filters/async-resolved.ts', 'async-resolved')
  const setHeader = await bundle('bench/filters/set-response-header.ts', 'set-response-header')
  const readBody = await bundle('bench/filters/read-body.ts', 'read-body')
  const op = (name: string, body?: number): Spec => ({
    bundle: micro, filter: 'micro', config: JSON.stringify({ op: name }), mode: 'stream', iterations: 100000 * scale, ...(body ? { body } : {}),
  })
  const specs: Record<string, Spec> = {
    hook: { bundle: noop, filter: 'noop', mode: 'same-stream', iterations: 400000 * scale },
    noop: op('noop'),
    noopKeep: { ...op('noop'), keep: true },
    get: op('get'),
    getCached: op('get-cached'),
    set: op('set'),
    reply: op('reply'),
    bodyNoop: { ...op('body-noop', BODY), iterations: 20000 * scale },
    body: { ...op('body', BODY), iterations: 20000 * scale },
    basicAuth: { bundle: basicAuth, filter: 'basic-auth', config: CREDENTIALS, mode: 'stream', iterations: 100000 * scale },
    async: { bundle: asyncResolved, filter: 'async-resolved', mode: 'stream', iterations: 100000 * scale },
    setHeader: { bundle: setHeader, filter: 'set-response-header', mode: 'stream', iterations: 100000 * scale },
    readBody: { bundle: readBody, filter: 'read-body', mode: 'stream', body: BODY, iterations: 20000 * scale },
  }
  // Interleaved: every spec once per run.
  const samples = new Map<string, { ns: number[]; bytes: number }>(Object.keys(specs).map((k) => [k, { ns: [], bytes: 0 }]))
  for (let run = 0; run < runs; run++) {
    for (const [key, spec] of Object.entries(specs)) {
      const r = once(bin, spec)
      samples.get(key)!.ns.push(r.ns)
      samples.get(key)!.bytes = r.bytes
    }
    log(`micro: run ${run + 1}/${runs} done`)
  }
  const ns = (key: string) => median(samples.get(key)!.ns)
  const bytes = (key: string) => samples.get(key)!.bytes
  return [
    { name: 'hook call: request-headers hook on a live stream (C++ → JS → C++)', ns: ns('hook'), runs },
    { name: 'stream with a no-op request-headers hook (new, hook, response headers, complete, destroy)', ns: ns('noop'), bytes: bytes('noop'), runs },
    { name: 'the same, with another stream open throughout (the isolate stays locked between streams)', ns: ns('noopKeep'), runs },
    { name: 'header read, first (the whole map crosses: 9 headers)', ns: ns('get') - ns('noop'), bytes: bytes('get'), runs },
    { name: 'header read, cached', ns: (ns('getCached') - ns('get')) / 10, runs },
    { name: 'set header', ns: ns('set') - ns('noop'), runs },
    { name: 'sendLocalReply', ns: ns('reply') - ns('noop'), runs },
    { name: 'body hook call, 64 KiB frame not read', ns: ns('bodyNoop') - ns('noop'), bytes: bytes('bodyNoop'), runs },
    { name: 'body read, 64 KiB (chunk.bytes())', ns: ns('body') - ns('bodyNoop'), bytes: bytes('body'), runs },
    { name: 'scenario TS basic-auth: whole stream', ns: ns('basicAuth'), bytes: bytes('basicAuth'), runs },
    { name: 'scenario TS async (await resolved): whole stream', ns: ns('async'), bytes: bytes('async'), runs },
    { name: 'scenario TS set response header: whole stream', ns: ns('setHeader'), bytes: bytes('setHeader'), runs },
    { name: 'scenario TS read 64 KiB body: whole stream', ns: ns('readBody'), bytes: bytes('readBody'), runs },
  ]
}
