// First request on a fresh worker vs steady state, through the dev host with the TS basic-auth
// filter at --concurrency 1. Each request uses a new connection, so the two are comparable.
// Usage: tsx bench/first-request.ts [runs]
import { performance } from 'node:perf_hooks'
import { Client } from 'undici'
import { bootstrap } from '../test/harness/config.js'
import { bundled, nodevoyFilter } from '../test/harness/nodevoy.js'
import { startProxy } from '../test/harness/proxy.js'

async function timeOne(url: string): Promise<number> {
  const client = new Client(url)
  const start = performance.now()
  const res = await client.request({ path: '/', method: 'GET', headers: { authorization: 'Basic ' + Buffer.from('u:p').toString('base64') } })
  await res.body.text()
  const elapsed = performance.now() - start
  await client.close()
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`)
  return elapsed
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const runs = Number(process.argv[2] ?? 5)
const bundle = await bundled('examples/basic-auth/filter.ts')
const firsts: number[] = []
const steadies: number[] = []
for (let run = 0; run < runs; run++) {
  const proxy = await startProxy(
    'devhost',
    bootstrap({
      filters: [nodevoyFilter({ name: 'auth', bundle, config: { username: 'u', password: 'p' } })],
      routes: [{ prefix: '/', directResponse: { status: 200, body: 'ok' } }],
    }),
    { concurrency: 1 },
  )
  firsts.push(await timeOne(proxy.url))
  const steady: number[] = []
  for (let i = 0; i < 200; i++) steady.push(await timeOne(proxy.url))
  steadies.push(median(steady))
  await proxy.stop()
}
const f = median(firsts)
const s = median(steadies)
console.log(`first request on a fresh worker: median ${f.toFixed(2)} ms over ${runs} starts (all: ${firsts.map((x) => x.toFixed(2)).join(', ')})`)
console.log(`steady state (median of 200 per start): ${s.toFixed(2)} ms; first-request extra: ${(f - s).toFixed(2)} ms`)
