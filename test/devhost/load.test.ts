// basic_auth under load at --concurrency 2: no errors, and memory does not grow with traffic.
import fs from 'node:fs'
import autocannon from 'autocannon'
import t from 'tap'
import { bootstrap } from '../harness/config.js'
import { startProxy } from '../harness/proxy.js'
import { startProxyWithUpstream } from '../harness/stack.js'
import { forEachTarget } from '../harness/targets.js'

function rssKb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1])
}

async function load(url: string, amount: number, headers: Record<string, string>) {
  const result = await autocannon({ url, connections: 16, amount, headers })
  return result
}

t.test('10,000 authorised requests: all 200, RSS stable', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await startProxyWithUpstream(
      t,
      target,
      { filters: [{ name: 'auth', module: 'basic_auth', config: { username: 'u', password: 'p' } }] },
      { concurrency: 2 },
    )
    const headers = { authorization: 'Basic ' + Buffer.from('u:p').toString('base64') }
    const pid = proxy.process.pid!

    const warm = await load(`${proxy.url}/`, 2000, headers)
    t.equal(warm.errors + warm.non2xx, 0, 'warm-up: no errors')
    const before = rssKb(pid)
    const first = await load(`${proxy.url}/`, 10000, headers)
    const middle = rssKb(pid)
    const second = await load(`${proxy.url}/`, 10000, headers)
    const after = rssKb(pid)
    for (const [name, run] of [['first', first], ['second', second]] as const) {
      t.equal(run.errors, 0, `${name} 10,000: no connection errors`)
      t.equal(run.timeouts, 0, `${name} 10,000: no timeouts`)
      t.equal(run.non2xx, 0, `${name} 10,000: every response 2xx`)
      t.equal(run['2xx'], 10000, `${name} 10,000: 10,000 responses`)
    }
    t.comment(`RSS KiB: after warm-up ${before}, after 10k ${middle}, after 20k ${after}`)
    t.comment(`throughput: ${first.requests.average} and ${second.requests.average} req/s (16 connections)`)
    // A leak of even 100 bytes per request would add ~1 MB per 10,000 requests.
    t.ok(after - middle < 1024, `RSS grew ${after - middle} KiB over the second 10,000 requests (limit 1024)`)
    t.equal(await proxy.stat('http.ingress.downstream_rq_active'), 0, 'no stream left active')
  }),
)

t.test('denied requests under load: all 401, RSS stable', (t) =>
  forEachTarget(t, async (t, target) => {
    const proxy = await startProxy(
      target,
      bootstrap({
        filters: [{ name: 'auth', module: 'basic_auth', config: { username: 'u', password: 'p' } }],
        routes: [{ prefix: '/', directResponse: { status: 200 } }],
      }),
      { concurrency: 2 },
    )
    t.teardown(() => proxy.stop())
    const pid = proxy.process.pid!
    await load(`${proxy.url}/`, 2000, {})
    const before = rssKb(pid)
    const run = await load(`${proxy.url}/`, 10000, {})
    const after = rssKb(pid)
    t.equal(run.errors, 0)
    t.equal(run['4xx'], 10000, 'every response is the 401')
    t.comment(`RSS KiB: ${before} -> ${after}`)
    t.ok(after - before < 1024, `RSS grew ${after - before} KiB (limit 1024)`)
  }),
)
