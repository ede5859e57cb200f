import { request } from 'undici'
import { bundleFilter } from '../scripts/bundle.js'
import { bootstrap } from '../test/harness/config.js'
import { nodevoyFilter } from '../test/harness/nodevoy.js'
import { startProxy } from '../test/harness/proxy.js'
const entry = process.argv[2]!
await bundleFilter(entry, '/tmp/envmem-probe/out/probe.js')
const proxy = await startProxy('devhost', bootstrap({ filters: [nodevoyFilter({ name: 'p', bundle: '/tmp/envmem-probe/out/probe.js' })], routes: [{ prefix: '/', directResponse: { status: 200, body: 'ok' } }] }), { concurrency: 1, env: process.env.PROBE_ENV ? JSON.parse(process.env.PROBE_ENV) : {} })
for (const p of (process.argv[3] ?? '/').split(',')) { const r = await request(proxy.url + p); console.log(p, r.statusCode, await r.body.text()) }
await proxy.stop()
