// The scenario table (table.ts) through real HTTP: the scenario filter in libnodevoy on the dev host,
// a local upstream and a callout cluster. The same expectations as the testing kit's run.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { bootstrap } from '../harness/config.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { startProxy, type Proxy } from '../harness/proxy.js'
import { devHostOnly } from '../harness/targets.js'
import { checkOutcome, type Outcome } from './check.js'
import { scenarios, serviceAnswer, type Scenario, type UpstreamSpec } from './table.js'

interface Seen {
  method: string
  path: string
  headers: Record<string, string>
  body: string
}

async function startServer(t: Test, handle: (req: http.IncomingMessage, body: string, res: http.ServerResponse) => Promise<void> | void) {
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    await handle(req, Buffer.concat(chunks).toString(), res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return (server.address() as AddressInfo).port
}

t.test('every scenario through the dev host', (t) =>
  devHostOnly(t, async (t) => {
    const bundle = await bundled('test/scenarios/filter.ts')
    // What reached the upstream, by scenario request id.
    const seen = new Map<string, Seen>()
    const upstreamPort = await startServer(t, async (req, body, res) => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]))
      seen.set(String(req.headers['x-scenario-id']), { method: req.method ?? '', path: req.url ?? '', headers, body })
      const spec = JSON.parse(String(req.headers['x-upstream-spec'] ?? '{}')) as UpstreamSpec
      if (spec.echo) {
        res.writeHead(spec.status ?? 200, { 'x-echo-method': req.method ?? '', 'x-echo-path': req.url ?? '' }).end(body)
        return
      }
      res.writeHead(spec.status ?? 200, { ...(spec.trailers ? { trailer: Object.keys(spec.trailers).join(', ') } : {}), ...spec.headers })
      for (const frame of spec.body ?? []) {
        res.write(frame)
        await new Promise((r) => setTimeout(r, 5))
      }
      if (spec.trailers) res.addTrailers(spec.trailers)
      res.end()
    })
    const servicePort = await startServer(t, (req, body, res) => {
      const answer = serviceAnswer(req.method ?? '', req.url ?? '', body, req.headers['x-check'] as string | undefined)
      res.writeHead(answer.status).end(answer.body)
    })
    // One proxy per distinct filter config, route config and buffer limit.
    const proxies = new Map<string, Proxy>()
    const proxyFor = async (scenario: Scenario): Promise<Proxy> => {
      const key = JSON.stringify([scenario.config, scenario.failOpen, scenario.routeConfig, scenario.bufferLimit])
      let proxy = proxies.get(key)
      if (proxy) return proxy
      proxy = await startProxy(
        'devhost',
        bootstrap({
          filters: [nodevoyFilter({ name: 'scenarios', bundle, config: scenario.config, failOpen: scenario.failOpen })],
          routes: [
            {
              prefix: '/',
              ...(scenario.routeConfig
                ? { perFilter: { scenarios: { module: 'nodevoy', filterName: 'scenarios', config: { config: scenario.routeConfig } } } }
                : {}),
            },
          ],
          clusters: { backend: [upstreamPort], service: [servicePort] },
          http1Trailers: true,
          bufferLimitBytes: scenario.bufferLimit,
        }),
        { concurrency: 1 },
      )
      proxies.set(key, proxy)
      t.teardown(() => proxy!.stop())
      return proxy
    }
    let id = 0
    for (const scenario of scenarios) {
      const proxy = await proxyFor(scenario)
      await t.test(scenario.name, async (t) => {
        const requestId = String(++id)
        const res = await request(`${proxy.url}${scenario.request.path ?? '/'}`, {
          method: (scenario.request.method ?? (scenario.request.body ? 'POST' : 'GET')) as 'GET',
          headers: { ...scenario.request.headers, 'x-scenario-id': requestId, 'x-upstream-spec': JSON.stringify(scenario.upstream ?? {}) },
          body: scenario.request.body,
        })
        const body = await res.body.text()
        const headers = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]))
        const trailers = Object.fromEntries(Object.entries(res.trailers ?? {}).map(([k, v]) => [k, String(v)]))
        const up = seen.get(requestId)
        const outcome: Outcome = { status: res.statusCode, headers, body, trailers, upstream: up }
        checkOutcome(t, scenario, outcome)
      })
    }
  }),
)
