// Conformance: header maps, pseudo-headers and trailers through the ABI, observed with the probe
// (test/modules/README.md §4.2, recipes §5.2). Two probe instances, a then b, sit in front of the
// router; the upstream echoes what it received.
import t from 'tap'
import { request } from 'undici'
import { forEachTarget } from '../harness/targets.js'
import { nodeRequest, parseDump, parseList, probeChain, report } from './headers-bodies.support.js'

t.test('header keys are lower-cased: a mixed-case request header is seen lower-case, and lookups ignore case', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await probeChain(t, target)
    // node:http writes the names exactly as given, so X-Mixed-Case goes on the wire in mixed case.
    const res = await nodeRequest(proxy.port, {
      path: '/lower',
      headers: [
        ['X-Mixed-Case', 'Value-Kept'],
        ['X-Probe', 'dump-request@a,get-request@b'],
        ['X-Probe-Key', 'X-MIXED-CASE'],
      ],
    })
    t.equal(res.status, 200)
    const dump = parseDump(report(res.headers, 'a', 'request-headers'))
    t.ok(dump.length > 0, 'a dumped the request headers')
    t.same(
      dump.filter(([k]) => k !== k.toLowerCase()),
      [],
      'every key in get_headers is lower-case',
    )
    t.same(
      dump.filter(([k]) => k === 'x-mixed-case'),
      [['x-mixed-case', 'Value-Kept']],
      'the mixed-case header is there, lower-cased, with its value untouched',
    )
    t.equal(report(res.headers, 'b', 'request-get-found'), 'true', 'get_header with an upper-case key finds it')
    t.equal(report(res.headers, 'b', 'request-get-values'), 'Value-Kept')
  }),
)

t.test('get_header: index and count on a multi-valued key, get_header_values, past-the-end index, missing key', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await probeChain(t, target)
    const multi = await nodeRequest(proxy.port, {
      path: '/multi',
      headers: [
        ['x-multi', '1'],
        ['x-multi', '2,3'],
        ['x-probe', 'get-request@a'],
        ['x-probe-key', 'x-multi'],
      ],
    })
    t.equal(multi.status, 200)
    const h = multi.headers
    t.equal(report(h, 'a', 'request-get-found'), 'true', 'index 0: found')
    t.equal(report(h, 'a', 'request-get-count'), '2', 'the optional count is the number of values')
    t.same(parseList(report(h, 'a', 'request-get-values')), ['1', '2,3'], 'get_header(key, i) for each index, in order')
    t.same(parseList(report(h, 'a', 'request-get-values-bulk')), ['1', '2,3'], 'get_header_values gives the same values')
    t.equal(
      report(h, 'a', 'request-get-past-end'),
      'ret=false,ptr=null,length=0,count=2',
      'index == count: false, result {NULL, 0}, count still set',
    )

    const missing = await nodeRequest(proxy.port, {
      path: '/missing',
      headers: [
        ['x-probe', 'get-request@a'],
        ['x-probe-key', 'x-absent'],
      ],
    })
    t.equal(missing.status, 200)
    const m = missing.headers
    t.equal(report(m, 'a', 'request-get-found'), 'false', 'missing key: not found')
    t.equal(report(m, 'a', 'request-get-count'), '0', 'missing key: count 0')
    t.equal(report(m, 'a', 'request-get-values-bulk'), '(empty)', 'get_header_values answers true for a key without values: the map exists (Envoy; the dev host used to answer false)')
    t.equal(report(m, 'a', 'request-get-past-end'), 'ret=false,ptr=null,length=0,count=0', 'missing key: {NULL, 0}')
  }),
)

t.test('get_headers_size equals the number of entries get_headers returns', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await probeChain(t, target)
    const res = await nodeRequest(proxy.port, {
      path: '/size',
      headers: [
        ['x-multi', 'one'],
        ['x-other', 'o'],
        ['x-multi', 'two'],
        ['x-probe', 'dump-request@a'],
      ],
    })
    t.equal(res.status, 200)
    const count = Number(report(res.headers, 'a', 'request-header-count'))
    const dump = parseDump(report(res.headers, 'a', 'request-headers'))
    t.ok(count >= 6, `the count covers at least what was sent (${count})`)
    t.equal(dump.length, count, 'one dump entry per counted header')
    t.same(
      dump.filter(([k]) => k === 'x-multi').map(([, v]) => v),
      ['one', 'two'],
      'a key sent twice is two entries, in order',
    )
    t.same(dump.find(([k]) => k === ':method'), [':method', 'GET'])
    t.same(dump.find(([k]) => k === ':path'), [':path', '/size'])
    const lastPseudo = dump.map(([k]) => k.startsWith(':')).lastIndexOf(true)
    const firstRegular = dump.findIndex(([k]) => !k.startsWith(':'))
    t.ok(lastPseudo < firstRegular, 'pseudo-headers come first')
  }),
)

t.test('set replaces every value, NULL or empty value removes, add appends, add with an empty value fails: seen by a later filter and by the upstream', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy, upstream } = await probeChain(t, target)
    const res = await nodeRequest(proxy.port, {
      path: '/edit',
      headers: [
        ['x-multi', '1'],
        ['x-multi', '2'],
        ['user-agent', 'probe-test'],
        ['x-empty-me', 'gone'],
        ['x-last', 'L'],
        ['x-probe', 'edit-request@a,dump-request@b'],
        ['x-probe-edit-request', 'set x-multi z; add x-add one; add x-add two; remove user-agent; set-empty x-empty-me; add x-never'],
      ],
    })
    t.equal(res.status, 200)
    t.same(
      parseList(report(res.headers, 'a', 'edit-request-results')),
      ['true', 'true', 'true', 'true', 'true', 'false'],
      'set, add, add, remove (NULL value), set with an empty value: true; add with an empty value: false',
    )
    const dump = parseDump(report(res.headers, 'b', 'request-headers'))
    const values = (key: string) => dump.filter(([k]) => k === key).map(([, v]) => v)
    t.same(values('x-multi'), ['z'], 'b: set left one value')
    t.same(values('x-add'), ['one', 'two'], 'b: add appended two values, in order')
    t.same(values('user-agent'), [], 'b: set with NULL removed the header')
    t.same(values('x-empty-me'), [], 'b: set with a zero-length value removed the header')
    t.same(values('x-never'), [], 'b: the failed add added nothing')
    const keys = dump.map(([k]) => k)
    // Envoy's setCopy removes the key and adds it again, so the new value goes to the end of the map.
    t.ok(keys.indexOf('x-multi') > keys.indexOf('x-last'), 'b: the set header moved behind the headers that followed it')
    t.ok(keys.indexOf('x-add') > keys.indexOf('x-multi'), 'b: added headers come after it')

    t.equal(upstream.requests.length, 1)
    const seen = upstream.requests[0]!.headers
    t.equal(seen['x-multi'], 'z', 'upstream: one x-multi')
    t.equal(seen['x-add'], 'one, two', 'upstream: both x-add values')
    t.equal(seen['user-agent'], undefined, 'upstream: no user-agent')
    t.equal(seen['x-empty-me'], undefined, 'upstream: no x-empty-me')
    t.equal(seen['x-never'], undefined, 'upstream: no x-never')
    t.equal(seen['x-last'], 'L', 'upstream: untouched headers stay')
  }),
)

t.test('pseudo-headers :method :path :authority :scheme are readable, and :status on the response', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await probeChain(t, target)
    const res = await request(`${proxy.url}/status/201?q=1`, { method: 'PUT', body: 'x', headers: { 'x-probe': 'pseudo@a' } })
    await res.body.text()
    t.equal(res.statusCode, 201)
    t.equal(report(res.headers, 'a', 'pseudo-method'), 'PUT')
    t.equal(report(res.headers, 'a', 'pseudo-path'), '/status/201?q=1', ':path includes the query')
    t.equal(report(res.headers, 'a', 'pseudo-authority'), `127.0.0.1:${proxy.port}`, ':authority is the Host header')
    t.equal(report(res.headers, 'a', 'pseudo-scheme'), 'http')
    t.equal(report(res.headers, 'a', 'pseudo-status'), '201', ':status in the response headers')
  }),
)

t.test(':path is writable: a later filter and the upstream see the new path', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy, upstream } = await probeChain(t, target)
    const res = await request(`${proxy.url}/original?a=1`, {
      headers: { 'x-probe': 'edit-request@a,pseudo@b', 'x-probe-edit-request': 'set :path /echo/new?b=2' },
    })
    const echoed = (await res.body.json()) as { url: string }
    t.equal(res.statusCode, 200)
    t.equal(report(res.headers, 'a', 'edit-request-results'), 'true')
    t.equal(report(res.headers, 'b', 'pseudo-path'), '/echo/new?b=2', 'b reads the new :path')
    t.equal(echoed.url, '/echo/new?b=2', 'the upstream got the new path')
    t.equal(upstream.requests[0]?.url, '/echo/new?b=2')
  }),
)

t.test('response header edits reach the client and the filters after them', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await probeChain(t, target)
    // On the response path b runs first, then a.
    const res = await request(`${proxy.url}/resp`, {
      headers: {
        'x-probe': 'edit-response@b,dump-response@a',
        'x-probe-edit-response': 'set x-upstream changed; add x-resp r1; add x-resp r2; remove content-type; add x-never',
      },
    })
    await res.body.text()
    t.equal(res.statusCode, 200)
    t.same(parseList(report(res.headers, 'b', 'edit-response-results')), ['true', 'true', 'true', 'true', 'false'])
    t.equal(res.headers['x-upstream'], 'changed', 'client: set replaced the upstream value')
    const resp = res.headers['x-resp']
    t.same(Array.isArray(resp) ? resp : resp?.split(', '), ['r1', 'r2'], 'client: both added values')
    t.equal(res.headers['content-type'], undefined, 'client: the removed header is gone')
    t.equal(res.headers['x-never'], undefined)
    const dump = parseDump(report(res.headers, 'a', 'response-headers'))
    t.same(dump[0], [':status', '200'], 'a: :status first in the response map')
    t.same(dump.filter(([k]) => k === 'x-upstream'), [['x-upstream', 'changed']], 'a sees b’s set')
    t.same(dump.filter(([k]) => k === 'x-resp').map(([, v]) => v), ['r1', 'r2'], 'a sees b’s adds')
    t.same(dump.filter(([k]) => k === 'content-type'), [], 'a sees b’s remove')
  }),
)

t.test('request trailers are read and edited; the upstream receives the edited trailers', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy, upstream } = await probeChain(t, target, { http1Trailers: true })
    // node:http sends a chunked body with a real trailer section (undici cannot send request trailers).
    const res = await nodeRequest(proxy.port, {
      path: '/trailers',
      pieces: ['hello ', 'trailers'],
      trailers: { 'x-t1': 'one', 'x-t2': 'two' },
      headers: [
        ['x-probe', 'dump-request-trailers@a,edit-request-trailers@a,get-request-trailers@b'],
        ['x-probe-edit-request-trailers', 'set x-t1 changed; add x-t3 new; remove x-t2'],
        ['x-probe-key', 'x-t1'],
      ],
    })
    t.equal(res.status, 200)
    const h = res.headers
    t.equal(report(h, 'a', 'request-trailer-count'), '2', 'a: two trailers')
    t.same(parseDump(report(h, 'a', 'request-trailers')), [['x-t1', 'one'], ['x-t2', 'two']], 'a: the trailers as sent')
    t.same(parseList(report(h, 'a', 'edit-request-trailers-results')), ['true', 'true', 'true'])
    t.equal(report(h, 'b', 'request-trailers-get-found'), 'true')
    t.equal(report(h, 'b', 'request-trailers-get-values'), 'changed', 'b: sees a’s edit')
    t.equal(upstream.requests.length, 1)
    const seen = upstream.requests[0]!
    t.equal(seen.body, 'hello trailers', 'upstream: the body')
    t.same(seen.trailers, { 'x-t1': 'changed', 'x-t3': 'new' }, 'upstream: the edited trailers')
  }),
)

t.test('response trailers from the upstream are read and edited; the client receives the edited trailers', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await probeChain(t, target, { http1Trailers: true })
    // /chunked answers "one,two,three" in three writes and the trailer x-upstream-trailer: done.
    const res = await request(`${proxy.url}/chunked`, {
      headers: {
        'x-probe': 'dump-response-trailers@a,get-response-trailers@a,edit-response-trailers@b',
        'x-probe-edit-response-trailers': 'set x-upstream-trailer changed; add x-new nt',
        'x-probe-key': 'X-Upstream-Trailer',
      },
    })
    const body = await res.body.text()
    t.equal(res.statusCode, 200)
    t.equal(body, 'one,two,three')
    t.same({ ...res.trailers }, { 'x-upstream-trailer': 'changed', 'x-new': 'nt' }, 'client: the edited trailers')
    // a holds the response until its trailers, so its reports show the trailers after b's edits.
    t.equal(report(res.headers, 'a', 'response-trailer-count'), '2')
    t.same(
      parseDump(report(res.headers, 'a', 'response-trailers')).sort(),
      [['x-new', 'nt'], ['x-upstream-trailer', 'changed']],
      'a: the trailers after b’s edits',
    )
    t.equal(report(res.headers, 'a', 'response-trailers-get-values'), 'changed')
  }),
)

t.test('HTTP/1 trailers are dropped unless enable_trailers is set (Envoy’s default)', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy, upstream } = await probeChain(t, target)
    const up = await nodeRequest(proxy.port, {
      path: '/no-trailers',
      pieces: ['body'],
      trailers: { 'x-t1': 'one' },
      headers: [['x-probe', 'hooks@a,dump-request-trailers@a']],
    })
    t.equal(up.status, 200)
    t.equal(upstream.requests[0]?.body, 'body', 'the body still arrives')
    t.same(upstream.requests[0]?.trailers, {}, 'the upstream gets no trailers')
    t.notOk(parseList(report(up.headers, 'a', 'hooks')).includes('request_trailers'), 'no request_trailers hook')
    t.equal(report(up.headers, 'a', 'request-trailers'), undefined)

    const down = await request(`${proxy.url}/chunked`, { headers: { 'x-probe': 'hooks@a' } })
    t.equal(await down.body.text(), 'one,two,three')
    t.same({ ...down.trailers }, {}, 'the client gets no trailers')
  }),
)
