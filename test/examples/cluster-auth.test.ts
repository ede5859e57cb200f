// The cluster-auth example (examples/cluster-auth/filter.ts): the auth service is a cluster of the
// Envoy config, called with stream.fetch; through the dev host, and through the testing kit.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { bootstrap } from '../harness/config.js'
import { filterModule } from '../harness/kit.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { startProxy } from '../harness/proxy.js'
import { startUpstream } from '../harness/upstream.js'
import { forEachTarget } from '../harness/targets.js'
import { testFilter } from '../../sdk/testing/index.js'

const ENTRY = 'examples/cluster-auth/filter.ts'

interface Check {
  authorization?: string
  method?: string
  path?: string
  scope?: string
}

// The auth service: Bearer user-<id> -> 200 x-user-id; Bearer admin -> 200 with scope admin;
// Bearer expired -> 401 with a challenge; Bearer broken -> 500; anything else 403.
async function startAuth(t: Test) {
  const checks: Check[] = []
  const server = http.createServer((req, res) => {
    const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '')
    const scope = req.headers['x-required-scope'] as string | undefined
    checks.push({ authorization: req.headers.authorization, method: req.headers['x-original-method'] as string, path: req.headers['x-original-path'] as string, scope })
    const user = /^user-(\w+)$/.exec(token)
    if (scope === 'admin' && token !== 'admin') return res.writeHead(403).end('needs admin')
    if (user) return res.writeHead(200, { 'x-user-id': user[1] }).end()
    if (token === 'admin') return res.writeHead(200, { 'x-user-id': 'root' }).end()
    if (token === 'expired') return res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end('token expired')
    if (token === 'broken') return res.writeHead(500).end('oops')
    res.writeHead(403).end('forbidden')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { port: (server.address() as AddressInfo).port, checks }
}

t.test('checks through the auth cluster, per-route scopes, a shared cache', (t) =>
  forEachTarget(t, async (t, target) => {
    const auth = await startAuth(t)
    const bundle = await bundled(ENTRY)
    const perRoute = (config: Record<string, unknown>) => ({ 'cluster-auth': { module: 'nodevoy', filterName: 'cluster-auth', config: { config } } })
    const upstream = await startUpstream()
    t.teardown(() => upstream.close())
    const full = await startProxy(
      target,
      bootstrap({
        filters: [nodevoyFilter({ name: 'cluster-auth', bundle, config: { cluster: 'auth', cacheTtlMs: 60000 } })],
        routes: [
          { prefix: '/public', perFilter: perRoute({ disabled: true }) },
          { prefix: '/admin', perFilter: perRoute({ requiredScope: 'admin' }) },
          { prefix: '/' },
        ],
        clusters: { backend: [upstream.port], auth: [auth.port] },
      }),
      { concurrency: 2 },
    )
    t.teardown(() => full.stop())
    const get = async (path: string, token?: string) => {
      const res = await request(`${full.url}${path}`, { headers: token ? { authorization: `Bearer ${token}`, 'x-user-id': 'spoofed' } : {} })
      return { status: res.statusCode, headers: res.headers, body: await res.body.text() }
    }
    let r = await get('/api/items', 'user-alice')
    t.equal(r.status, 200)
    t.equal(upstream.requests.at(-1)!.headers['x-user-id'], 'alice', "the service's answer reached the upstream, the client's value did not")
    t.same(auth.checks.at(-1), { authorization: 'Bearer user-alice', method: 'GET', path: '/api/items', scope: undefined })
    const checksBefore = auth.checks.length
    r = await get('/api/other', 'user-alice')
    t.equal(r.status, 200)
    t.equal(auth.checks.length, checksBefore, 'the second request used the shared cache: no check')
    r = await get('/api/items', 'expired')
    t.equal(r.status, 401)
    t.equal(r.body, 'token expired')
    t.equal(r.headers['www-authenticate'], 'Bearer error="invalid_token"')
    r = await get('/api/items', 'nobody')
    t.equal(r.status, 403)
    r = await get('/api/items', 'broken')
    t.equal(r.status, 503, 'a failing service: 503 (failureModeAllow is off)')
    r = await get('/public/page')
    t.equal(r.status, 200, 'a route with the check off')
    r = await get('/admin/panel', 'user-bob')
    t.equal(r.status, 403, 'a route that requires the admin scope')
    t.equal(auth.checks.at(-1)!.scope, 'admin', 'the scope went with the check')
    r = await get('/admin/panel', 'admin')
    t.equal(r.status, 200)
    const stats = await full.stats()
    t.equal(stats.get('dynamicmodulescustom.checks.result.allowed'), '2')
    t.equal(stats.get('dynamicmodulescustom.checks.result.cached'), '1')
    t.equal(stats.get('dynamicmodulescustom.checks.result.denied'), '3')
    t.equal(stats.get('dynamicmodulescustom.checks.result.error'), '1')
    t.equal(stats.get('dynamicmodulescustom.checks.result.skipped'), '1')
    t.ok(Number(stats.get('cluster.auth.upstream_rq_total')) >= 6, "the checks count in the auth cluster's stats")
  }),
)

t.test('in the testing kit, with a fake auth cluster', async (t) => {
  const seen: string[] = []
  const filter = testFilter(await filterModule(ENTRY), {
    config: { cluster: 'auth', upstreamHeaders: ['x-user-id'] },
    clusters: {
      auth: (req) => {
        const token = req.headers.find(([k]) => k === 'authorization')?.[1] ?? ''
        seen.push(`${req.path} ${token}`)
        if (token === 'Bearer ok') return { status: 200, headers: { 'x-user-id': 'u1' } }
        if (token === 'Bearer down') return 'unreachable'
        return { status: 403, body: 'no' }
      },
    },
  })
  let res = await filter.request({ headers: { authorization: 'Bearer ok' } })
  t.equal(res.status, 200)
  t.equal(res.upstream?.headers.find(([k]) => k === 'x-user-id')?.[1], 'u1')
  t.same(seen, ['/check Bearer ok'])
  res = await filter.request({ headers: { authorization: 'Bearer no' } })
  t.equal(res.status, 403)
  t.equal(res.body, 'no')
  t.equal(res.details, 'cluster_auth_denied')
  res = await filter.request({ headers: { authorization: 'Bearer down' } })
  t.equal(res.status, 503, "Envoy's 503 from an unreachable service is an error answer")
  t.ok(filter.logs.some((l) => l.level === 'warn' && /authorization unavailable: the auth service answered 503/.test(l.message)))
  res = await filter.request({ headers: { authorization: 'Bearer ok' }, routeConfig: { disabled: true } })
  t.equal(res.status, 200)
  t.equal(seen.length, 3, 'no check on a route that turns it off')
  t.equal(filter.metric('checks', { result: 'skipped' }), 1)
  t.equal((filter.metric('check_ms') as number[]).length, 3)
  filter.destroy()
})
