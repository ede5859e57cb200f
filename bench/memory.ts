// RSS of the dev host with one TS filter at --concurrency 1, 2 and 4 (each worker has a Node
// environment; the config validation environment is one more), and what one more worker environment
// costs. Usage: tsx bench/memory.ts [entry.ts | bundle.js [config-json]]
// (default: the basic-auth example, the figure bench/README.md reports; a .js is used as it is).
import fs from 'node:fs'
import { request } from 'undici'
import { bootstrap } from '../test/harness/config.js'
import { bundled, nodevoyFilter } from '../test/harness/nodevoy.js'
import { startProxy } from '../test/harness/proxy.js'

const entry = process.argv[2] ?? 'examples/basic-auth/filter.ts'
const config = process.argv[2] ? (process.argv[3] ? JSON.parse(process.argv[3]) : undefined) : { username: 'u', password: 'p' }
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024
const bundle = entry.endsWith('.js') ? entry : await bundled(entry)
const results: [number, number][] = []
for (const concurrency of [1, 2, 4]) {
  const proxy = await startProxy(
    'devhost',
    bootstrap({
      filters: [nodevoyFilter({ name: 'filter', bundle, config })],
      routes: [{ prefix: '/', directResponse: { status: 200, body: 'ok' } }],
    }),
    { concurrency },
  )
  for (let i = 0; i < 200; i++) await (await request(proxy.url)).body.text()
  results.push([concurrency, rssMb(proxy.process.pid!)])
  await proxy.stop()
}
console.log(`${entry}: bundle ${(fs.statSync(bundle).size / 1024).toFixed(0)} KiB, ${fs.readFileSync(bundle, 'utf8').split('\n', 1)[0]}`)
for (const [c, mb] of results) console.log(`--concurrency ${c}: RSS ${mb.toFixed(1)} MB`)
const perWorker = (results[2]![1] - results[0]![1]) / 3
console.log(`per additional worker environment: ${perWorker.toFixed(1)} MB`)
