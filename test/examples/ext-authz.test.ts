// The ext-authz example (examples/ext-authz/filter.ts) through libnodevoy in the proxy, against a
// local authorization service.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { Agent, request, setGlobalDispatcher } from 'undici'
import { bootstrap } from '../harness/config.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { runExpectingFailure } from '../harness/proxy.js'
import { startProxyWithUpstream } from '../harness/stack.js'
import { forEachTarget } from '../harness/targets.js'

const ENTRY = 'examples/ext-authz/filter.ts'

// A request the proxy never answers fails after 15 s with HeadersTimeoutError, naming the request,
// rather than holding the whole file until tap's timeout. (Not a timing assertion: every answer
// expected here comes in well under a second.)
setGlobalDispatcher(new Agent({ headersTimeout: 15_000, bodyTimeout: 15_000 }))

interface AuthService {
  url: string
  checks: http.IncomingHttpHeaders[]
}

// The authorization service, decided by the Authorization header:
//   Bearer user-<id>  200 with x-user-id: <id> (and x-auth-internal, never configured to be copied)
//   Bearer anonymous  200 without x-user-id
//   Bearer expired    401 with a www-authenticate challenge
//   Bearer <other>    403 with a JSON body naming the token
//   Bearer slow       answers after 30 s (far beyond any timeoutMs used here)
//   Bearer broken     500
async function startAuthService(t: Test): Promise<AuthService> {
  const checks: http.IncomingHttpHeaders[] = []
  const timers = new Set<NodeJS.Timeout>()
  const server = http.createServer((req, res) => {
    checks.push(req.headers)
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '')
    const user = /^user-(\w+)$/.exec(token)
    if (user) {
      res.writeHead(200, { 'x-user-id': user[1], 'x-auth-internal': 'secret' }).end()
    } else if (token === 'anonymous') {
      res.writeHead(200).end()
    } else if (token === 'expired') {
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"', 'content-type': 'text/plain' }).end('token expired')
    } else if (token === 'slow') {
      const timer = setTimeout(() => {
        timers.delete(timer)
        res.writeHead(200).end()
      }, 30_000)
      timers.add(timer)
    } else if (token === 'broken') {
      res.writeHead(500).end('oops')
    } else {
      const body = JSON.stringify({ error: 'forbidden', token })
      res.writeHead(403, { 'content-type': 'application/json', 'x-auth-internal': 'secret' }).end(body)
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer)
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/check`, checks }
}

// A port nothing listens on: bound by the OS, then closed.
async function closedPortUrl(): Promise<string> {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}/check`
}

t.test('ext-authz: allowed requests reach the upstream with the copied header', (t) =>
  forEachTarget(t, async (t, target) => {
    const auth = await startAuthService(t)
    const bundle = await bundled(ENTRY)
    const { proxy, upstream } = await startProxyWithUpstream(t, target, {
      filters: [nodevoyFilter({ name: 'authz', bundle, config: { url: auth.url, timeoutMs: 2000, upstreamHeaders: ['x-user-id'] } })],
    })
    const res = await request(`${proxy.url}/api/orders?page=2`, {
      method: 'DELETE',
      headers: { authorization: 'Bearer user-alice', 'x-user-id': 'spoofed', cookie: 'session=private' },
    })
    t.equal(res.statusCode, 200, 'allowed')
    t.equal(res.headers['x-upstream'], 'yes', "the upstream's answer")
    await res.body.text()
    t.equal(upstream.requests.length, 1)
    const seen = upstream.requests[0]!
    t.equal(seen.url, '/api/orders?page=2')
    t.equal(seen.method, 'DELETE')
    t.equal(seen.headers['x-user-id'], 'alice', "the service's x-user-id replaced the client's")
    t.notOk('x-auth-internal' in seen.headers, 'headers not configured are not copied')
    t.equal(seen.headers.authorization, 'Bearer user-alice', 'the request itself is otherwise unchanged')

    t.equal(auth.checks.length, 1, 'one check per request')
    const checked = auth.checks[0]!
    t.equal(checked.authorization, 'Bearer user-alice', 'the check carries the Authorization header')
    t.equal(checked['x-original-method'], 'DELETE', ':method as x-original-method')
    t.equal(checked['x-original-path'], '/api/orders?page=2', ':path as x-original-path')
    t.notOk('cookie' in checked, 'headers not configured are not forwarded')
    t.notOk('x-user-id' in checked)

    const anonymous = await request(`${proxy.url}/public`, { headers: { authorization: 'Bearer anonymous', 'x-user-id': 'spoofed' } })
    t.equal(anonymous.statusCode, 200, 'allowed without a user id')
    await anonymous.body.text()
    t.notOk('x-user-id' in upstream.requests[1]!.headers, "a client's x-user-id never reaches the upstream when the service sets none")
  }),
)

t.test('ext-authz: denials carry the service status and body, and nothing reaches the upstream', (t) =>
  forEachTarget(t, async (t, target) => {
    const auth = await startAuthService(t)
    const bundle = await bundled(ENTRY)
    const { proxy, upstream } = await startProxyWithUpstream(t, target, {
      filters: [nodevoyFilter({ name: 'authz', bundle, config: { url: auth.url, upstreamHeaders: ['x-user-id'] } })],
    })
    const forbidden = await request(`${proxy.url}/admin`, { headers: { authorization: 'Bearer mallory' } })
    t.equal(forbidden.statusCode, 403, '403 from the service: 403')
    t.same(await forbidden.body.json(), { error: 'forbidden', token: 'mallory' }, "the service's body passed through")
    t.equal(forbidden.headers['content-type'], 'application/json', 'with its content-type')
    t.notOk('x-auth-internal' in forbidden.headers, 'headers not configured stay with the service')

    const noToken = await request(`${proxy.url}/admin`)
    t.equal(noToken.statusCode, 403, 'no Authorization at all: the service decides (403)')
    t.same(await noToken.body.json(), { error: 'forbidden', token: '' })

    const expired = await request(`${proxy.url}/admin`, { headers: { authorization: 'Bearer expired' } })
    t.equal(expired.statusCode, 401, '401 from the service: 401')
    t.equal(expired.headers['www-authenticate'], 'Bearer error="invalid_token"', 'with its challenge')
    t.equal(await expired.body.text(), 'token expired')

    t.equal(auth.checks.length, 3, 'every request was checked')
    t.equal(upstream.requests.length, 0, 'nothing denied reached the upstream')
  }),
)

t.test('ext-authz: a slow, failing or absent service answers 503', (t) =>
  forEachTarget(t, async (t, target) => {
    const auth = await startAuthService(t)
    const down = await closedPortUrl()
    const bundle = await bundled(ENTRY)
    const { proxy, upstream } = await startProxyWithUpstream(t, target, {
      filters: [nodevoyFilter({ name: 'authz', bundle, config: { url: auth.url, timeoutMs: 1000 } })],
    })
    const slow = await request(`${proxy.url}/x`, { headers: { authorization: 'Bearer slow' } })
    t.equal(slow.statusCode, 503, 'a service slower than timeoutMs: 503')
    t.equal(await slow.body.text(), 'authorization service unavailable')
    await proxy.waitForLog(/authorization service failed \(timed out\); answering 503/)

    const fine = await request(`${proxy.url}/x`, { headers: { authorization: 'Bearer user-bob' } })
    t.equal(fine.statusCode, 200, 'the filter keeps working after a timeout')
    await fine.body.text()
    t.equal(upstream.requests.length, 1, 'only the allowed request reached the upstream')

    // A generous timeout here: on a loaded machine a fresh connection can take longer than 200 ms.
    const { proxy: brokenProxy, upstream: brokenUpstream } = await startProxyWithUpstream(t, target, {
      filters: [nodevoyFilter({ name: 'authz', bundle, config: { url: auth.url, timeoutMs: 5000 } })],
    })
    const broken = await request(`${brokenProxy.url}/x`, { headers: { authorization: 'Bearer broken' } })
    t.equal(broken.statusCode, 503, 'a 500 from the service: 503')
    await broken.body.text()
    await brokenProxy.waitForLog(/authorization service failed \(the service answered 500\)/)
    t.equal(brokenUpstream.requests.length, 0, 'nothing reached the upstream')

    const { proxy: downProxy, upstream: downUpstream } = await startProxyWithUpstream(t, target, {
      filters: [nodevoyFilter({ name: 'authz', bundle, config: { url: down, timeoutMs: 2000 } })],
    })
    const refused = await request(`${downProxy.url}/x`, { headers: { authorization: 'Bearer user-bob' } })
    t.equal(refused.statusCode, 503, 'the service down (connection refused): 503')
    t.equal(await refused.body.text(), 'authorization service unavailable')
    await downProxy.waitForLog(/authorization service failed \(fetch failed \(ECONNREFUSED\)\); answering 503/)
    t.equal(downUpstream.requests.length, 0, 'nothing reached the upstream')
  }),
)

t.test('ext-authz: failureModeAllow lets requests through when the service is down, never the client\'s headers', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled(ENTRY)
    const config = { url: await closedPortUrl(), failureModeAllow: true, upstreamHeaders: ['x-user-id'] }
    const { proxy, upstream } = await startProxyWithUpstream(t, target, {
      filters: [nodevoyFilter({ name: 'authz', bundle, config })],
    })
    const res = await request(`${proxy.url}/x`, { headers: { authorization: 'Bearer user-bob', 'x-user-id': 'spoofed' } })
    t.equal(res.statusCode, 200, 'let through')
    await res.body.text()
    const seen = upstream.requests[0]!
    t.equal(seen.headers['x-ext-authz-failure-mode-allowed'], 'true', 'marked for the upstream')
    t.notOk('x-user-id' in seen.headers, "the client's x-user-id is removed")
  }),
)

t.test('ext-authz: 50 concurrent requests on 2 workers each get their own decision', (t) =>
  forEachTarget(t, async (t, target) => {
    const auth = await startAuthService(t)
    const bundle = await bundled(ENTRY)
    const { proxy, upstream } = await startProxyWithUpstream(
      t,
      target,
      { filters: [nodevoyFilter({ name: 'authz', bundle, config: { url: auth.url, timeoutMs: 3000, upstreamHeaders: ['x-user-id'] } })] },
      { concurrency: 2 },
    )
    const agent = new Agent({ connections: 50, pipelining: 1, headersTimeout: 15_000, bodyTimeout: 15_000 })
    t.teardown(() => agent.close())
    // Mostly allowed (each with its own user), every fifth denied, every tenth of those slow.
    const tokens = Array.from({ length: 50 }, (_, i) => (i % 10 === 9 ? 'slow' : i % 5 === 4 ? `deny-${i}` : `user-u${i}`))
    const results = await Promise.all(
      tokens.map(async (token, i) => {
        const res = await request(`${proxy.url}/r/${i}`, {
          dispatcher: agent,
          headers: { authorization: `Bearer ${token}`, 'x-user-id': 'spoofed' },
        })
        return { token, i, status: res.statusCode, body: await res.body.text() }
      }),
    )
    let correct = 0
    for (const r of results) {
      let ok: boolean
      if (r.token === 'slow') ok = r.status === 503
      else if (r.token.startsWith('deny-')) ok = r.status === 403 && JSON.parse(r.body).token === r.token
      else ok = r.status === 200 && (JSON.parse(r.body) as { url: string }).url === `/r/${r.i}`
      if (ok) correct++
      else t.fail(`request ${r.i} (${r.token}): ${r.status} ${r.body.slice(0, 200)}`)
    }
    t.equal(correct, 50, 'every request got the right answer')
    const allowed = tokens.filter((tok) => tok.startsWith('user-')).length
    t.equal(upstream.requests.length, allowed, 'exactly the allowed requests reached the upstream')
    const mismatched = upstream.requests.filter((req) => req.headers['x-user-id'] !== `u${req.url.slice('/r/'.length)}`)
    t.same(mismatched.map((r) => r.url), [], "each upstream request carries its own user's id")
    t.equal(auth.checks.length, 50, 'one check per request')
    if (target === 'devhost') {
      t.equal(await proxy.stat('devhost.abi_violation'), undefined, 'every Envoy call happened on the stream\'s worker')
    }
  }),
)

t.test('ext-authz: an invalid config is refused, naming the field', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled(ENTRY)
    const refused = await runExpectingFailure(
      target,
      bootstrap({
        filters: [
          nodevoyFilter({
            name: 'authz',
            bundle,
            config: { url: 'ftp://auth.local/check', timeoutMs: 0, forwardHeaders: ['authorization', 'host', ':status'], upstreamHeaders: [':path'] },
          }),
        ],
        clusters: { backend: [9] },
      }),
    )
    t.not(refused.code, 0, 'the proxy refuses to start')
    t.match(refused.output, /invalid config for filter "ext-authz": /)
    t.match(refused.output, /url: must be an http:\/\/ or https:\/\/ URL/, 'a URL of another scheme')
    t.match(refused.output, /timeoutMs: .*(>=1|too small)/i, 'a zero timeout')
    t.match(refused.output, /forwardHeaders\.1: host is a per-connection header/, 'host is not forwarded')
    t.match(refused.output, /forwardHeaders\.2: pseudo-header :status cannot be forwarded/, 'a response pseudo-header')
    t.match(refused.output, /upstreamHeaders\.0: pseudo-headers are not allowed here/, 'pseudo-headers cannot be copied')
    const missing = await runExpectingFailure(
      target,
      bootstrap({ filters: [nodevoyFilter({ name: 'authz', bundle, config: { timeoutMs: 100 } })], clusters: { backend: [9] } }),
    )
    t.match(missing.output, /invalid config for filter "ext-authz": url: /, 'the missing url is named')
  }),
)
