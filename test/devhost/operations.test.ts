// Operations: admin endpoints, Envoy-style logs, log levels, and a draining SIGTERM.
import t from 'tap'
import { request } from 'undici'
import { startProxyWithUpstream } from '../harness/stack.js'
import { devHostOnly, forEachTarget } from '../harness/targets.js'

t.test('admin: /ready, /stats, /listeners', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await startProxyWithUpstream(t, target)
    const ready = await request(`${proxy.adminUrl}/ready`)
    t.equal(ready.statusCode, 200)
    t.equal(await ready.body.text(), 'LIVE\n')
    for (let i = 0; i < 3; i++) await (await request(`${proxy.url}/`)).body.text()
    t.equal(await proxy.stat('http.ingress.downstream_rq_2xx'), 3)
    t.equal(await proxy.stat('cluster.backend.upstream_rq_total'), 3)
    const text = await (await request(`${proxy.adminUrl}/listeners`)).body.text()
    t.match(text, new RegExp(`^ingress::127\\.0\\.0\\.1:${proxy.port}$`, 'm'))
    const json = (await (await request(`${proxy.adminUrl}/stats?format=json`)).body.json()) as {
      stats: { name: string; value: number }[]
    }
    t.ok(json.stats.some((s) => s.name === 'http.ingress.downstream_rq_total' && s.value === 3))
  }),
)

t.test('SIGTERM drains in-flight streams, then exits 0', (t) =>
  devHostOnly(t, async (t) => {
    const { proxy } = await startProxyWithUpstream(t, 'devhost')
    const inFlight = request(`${proxy.url}/delay/600`)
    await new Promise((r) => setTimeout(r, 150))
    const stopped = proxy.stop()
    const res = await inFlight
    t.equal(res.statusCode, 200, 'the in-flight request completes')
    t.equal(res.headers.connection, 'close', 'and is told the connection closes')
    await res.body.text()
    const exit = await stopped
    t.equal(exit.code, 0, 'clean exit')
    await t.rejects(request(`${proxy.url}/`), 'no longer accepting')
  }),
)

t.test('unknown flags and levels are refused with a message', (t) =>
  devHostOnly(t, async (t) => {
    const { execFile } = await import('node:child_process')
    const { devHostBin } = await import('../harness/paths.js')
    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) =>
        execFile(devHostBin, args, (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
        ),
      )
    const badLevel = await run(['-c', '/dev/null', '--log-level', 'loud'])
    t.not(badLevel.code, 0)
    t.match(badLevel.out, /unknown log level 'loud'/)
    const badComponent = await run(['-c', '/dev/null', '--component-log-level', 'nope:debug'])
    t.not(badComponent.code, 0)
    t.match(badComponent.out, /component-log-level/)
    const noConfig = await run([])
    t.not(noConfig.code, 0)
    t.match(noConfig.out, /no configuration/)
  }),
)
