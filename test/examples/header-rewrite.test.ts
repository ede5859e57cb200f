// The header-rewrite example (examples/header-rewrite/filter.ts) through libnodevoy in the proxy.
import t from 'tap'
import { request } from 'undici'
import { bootstrap } from '../harness/config.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { runExpectingFailure } from '../harness/proxy.js'
import { startProxyWithUpstream } from '../harness/stack.js'
import { forEachTarget } from '../harness/targets.js'

const ENTRY = 'examples/header-rewrite/filter.ts'

t.test('header-rewrite: the classic "add a response header"', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled(ENTRY)
    const { proxy, upstream } = await startProxyWithUpstream(t, target, {
      filters: [nodevoyFilter({ name: 'rewrite', bundle, config: { response: { set: { 'x-served-by': 'nodevoy' } } } })],
    })
    const res = await request(`${proxy.url}/hello`, { headers: { 'x-client': 'c1' } })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['x-served-by'], 'nodevoy', 'the client sees the added header')
    t.equal(res.headers['x-upstream'], 'yes', "the upstream's own headers are kept")
    const body = (await res.body.json()) as { url: string; headers: Record<string, string> }
    t.equal(body.url, '/hello', "the upstream's body is passed through")
    t.equal(body.headers['x-client'], 'c1', 'the request is untouched when there are no request rules')
    t.equal(upstream.requests.length, 1)
  }),
)

t.test('header-rewrite: the upstream sees the rewritten request headers', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled(ENTRY)
    const config = {
      request: {
        remove: ['x-internal-*', 'x-debug'],
        set: {
          'x-env': 'prod',
          ':authority': 'backend.internal',
          ':path': '/v2%REQ(:path)%',
          'x-original-host': '%REQ(:authority)%',
          'x-trace': 'client=%REQ(x-client-id)%',
        },
        setIfAbsent: { 'x-tenant': 'default' },
        add: { 'x-via': 'nodevoy', 'x-tag': ['a', 'b'] },
      },
    }
    const { proxy, upstream } = await startProxyWithUpstream(t, target, {
      filters: [nodevoyFilter({ name: 'rewrite', bundle, config })],
    })
    const res = await request(`${proxy.url}/orders?id=7`, {
      headers: {
        'x-internal-user': 'mallory',
        'x-internal-role': 'admin',
        'x-debug': '1',
        'x-env': 'dev',
        'x-via': 'client-proxy',
        'x-keep': 'yes',
        'x-client-id': 'c-42',
      },
    })
    t.equal(res.statusCode, 200)
    await res.body.text()
    const seen = upstream.requests[0]!
    t.equal(seen.url, '/v2/orders?id=7', ':path rewritten from the original path')
    t.equal(seen.headers.host, 'backend.internal', ':authority rewritten (the upstream sees it as Host)')
    t.equal(seen.headers['x-original-host'], `127.0.0.1:${proxy.port}`, '%REQ()% reads the request as it arrived')
    t.notOk('x-internal-user' in seen.headers, 'prefix removal: x-internal-user')
    t.notOk('x-internal-role' in seen.headers, 'prefix removal: x-internal-role')
    t.notOk('x-debug' in seen.headers, 'exact removal')
    t.equal(seen.headers['x-env'], 'prod', 'set replaces the client value')
    t.equal(seen.headers['x-tenant'], 'default', 'setIfAbsent fills in a missing header')
    t.equal(seen.headers['x-via'], 'client-proxy, nodevoy', 'add appends to the client value')
    t.equal(seen.headers['x-tag'], 'a, b', 'add with a list appends each value')
    t.equal(seen.headers['x-trace'], 'client=c-42', 'literal text around %REQ()%')
    t.equal(seen.headers['x-keep'], 'yes', 'other headers pass untouched')

    const second = await request(`${proxy.url}/`, { headers: { 'x-tenant': 'acme' } })
    t.equal(second.statusCode, 200)
    await second.body.text()
    const seen2 = upstream.requests[1]!
    t.equal(seen2.headers['x-tenant'], 'acme', 'setIfAbsent keeps a value the client sent')
    t.equal(seen2.headers['x-via'], 'nodevoy', 'add without a client value')
    t.notOk('x-trace' in seen2.headers, 'a value whose %REQ()% header is missing is skipped, not half-written')
    t.equal(seen2.url, '/v2/', 'the path rule applies to every request')
  }),
)

t.test('header-rewrite: the client sees the rewritten response headers', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled(ENTRY)
    const config = {
      response: {
        remove: ['x-powered-by', 'x-upstream-debug-*'],
        set: { 'x-served-by': 'nodevoy', 'x-request-id': '%REQ(x-request-id)%' },
        setIfAbsent: { 'cache-control': 'no-store' },
        add: { link: '</app.css>; rel=preload', vary: 'accept-encoding' },
      },
    }
    const { proxy, upstream } = await startProxyWithUpstream(
      t,
      target,
      { filters: [nodevoyFilter({ name: 'rewrite', bundle, config })] },
      {
        handler: (req, res) => {
          res.setHeader('content-type', 'text/plain')
          res.setHeader('x-powered-by', 'php/5.2')
          res.setHeader('x-upstream-debug-sql', 'select 1')
          res.setHeader('x-upstream-debug-host', 'db-3')
          res.setHeader('link', '</app.js>; rel=preload')
          if (req.url === '/cached') res.setHeader('cache-control', 'max-age=60')
          res.end(`upstream body for ${req.url}`)
        },
      },
    )
    const plain = await request(`${proxy.url}/plain`)
    t.equal(plain.statusCode, 200)
    t.equal(await plain.body.text(), 'upstream body for /plain', 'the body is untouched')
    t.equal(plain.headers['x-served-by'], 'nodevoy', 'set adds a header')
    t.notOk('x-powered-by' in plain.headers, 'exact removal')
    t.notOk('x-upstream-debug-sql' in plain.headers, 'prefix removal: x-upstream-debug-sql')
    t.notOk('x-upstream-debug-host' in plain.headers, 'prefix removal: x-upstream-debug-host')
    t.equal(plain.headers['cache-control'], 'no-store', 'setIfAbsent fills in a missing header')
    t.same(plain.headers.link, ['</app.js>; rel=preload', '</app.css>; rel=preload'], "add appends after the upstream's value")
    t.equal(plain.headers.vary, 'accept-encoding', 'add without an upstream value')
    // Envoy's connection manager gives every request an x-request-id (a UUID) when it has none.
    const generated = upstream.requests[0]!.headers['x-request-id']
    t.match(generated, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'the proxy generated a request id')
    t.equal(plain.headers['x-request-id'], generated, '%REQ(x-request-id)% echoes the id the upstream saw')
    t.equal(plain.headers['content-type'], 'text/plain', 'other headers pass untouched')

    const cached = await request(`${proxy.url}/cached`, { headers: { 'x-request-id': 'req-123' } })
    t.equal(cached.statusCode, 200)
    await cached.body.text()
    t.equal(cached.headers['cache-control'], 'max-age=60', "setIfAbsent keeps the upstream's value")
    t.equal(cached.headers['x-request-id'], 'req-123', "%REQ(x-request-id)% echoes the request's header")

    // Concurrent requests each get their own request's value back.
    const ids = Array.from({ length: 40 }, (_, i) => `id-${i}`)
    const echoed = await Promise.all(
      ids.map(async (id) => {
        const res = await request(`${proxy.url}/plain`, { headers: { 'x-request-id': id } })
        await res.body.text()
        return res.headers['x-request-id']
      }),
    )
    t.same(echoed, ids, 'every concurrent response echoes its own request id')
  }),
)

t.test('header-rewrite: an invalid config is refused, naming the field', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled(ENTRY)
    const refuse = (config: unknown) =>
      runExpectingFailure(
        target,
        bootstrap({ filters: [nodevoyFilter({ name: 'rewrite', bundle, config })], clusters: { backend: [9] } }),
      )
    const typo = await refuse({ respones: { set: { 'x-a': 'b' } } })
    t.not(typo.code, 0, 'the proxy refuses to start')
    t.match(typo.output, /invalid config for filter "header-rewrite": \(config\): Unrecognized key: "respones"/, 'a misspelt section')

    const many = await refuse({
      request: {
        set: { 'bad name': 'x', host: 'example.com', ':scheme': 'https' },
        remove: [':path', '*'],
        add: { 'x-a': ['ok', 'two\nlines'] },
      },
      response: { set: 'x-served-by', sett: {} },
    })
    t.not(many.code, 0)
    t.match(many.output, /request\.set\.bad name: "bad name" is not a valid header name/, 'an invalid header name')
    t.match(many.output, /request\.set\.host: host is :authority in Envoy; set :authority instead/, 'host')
    t.match(many.output, /request\.set\.:scheme: pseudo-header :scheme cannot be set/, 'a pseudo-header that cannot be set')
    t.match(many.output, /request\.remove\.0: pseudo-header :path cannot be removed/, 'removing a pseudo-header')
    t.match(many.output, /request\.remove\.1: a prefix is needed before "\*"/, 'a bare wildcard')
    t.match(many.output, /request\.add\.x-a\.1: a header value must not contain NUL, CR or LF/, 'a value with a line break, by index')
    t.match(many.output, /response\.set: .*record/, 'a wrong type')
    t.match(many.output, /response: Unrecognized key: "sett"/, 'a misspelt rule')

    const template = await refuse({ response: { set: { 'x-a': '%REQ(bad name)%' } } })
    t.match(template.output, /response\.set\.x-a: %REQ\(bad name\)% does not name a header/, 'a template naming no header')
  }),
)
