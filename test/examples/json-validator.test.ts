// The json-validator example (examples/json-validator/filter.ts) through libnodevoy in the proxy.
import { Readable } from 'node:stream'
import t from 'tap'
import { request } from 'undici'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { startProxyWithUpstream } from '../harness/stack.js'
import { forEachTarget } from '../harness/targets.js'

const ENTRY = 'examples/json-validator/filter.ts'
const config = { paths: ['/api/'], required: { name: 'string', age: 'number' }, optional: { tags: 'array' }, maxBytes: 4096, strip: true }

/** The body in a few frames, chunked unless a content-length is given. */
function send(url: string, text: string, headers: Record<string, string> = {}) {
  const data = Buffer.from(text)
  const body = Readable.from(
    (async function* () {
      for (let i = 0; i < data.length; i += 7) {
        yield data.subarray(i, i + 7)
        await new Promise((r) => setTimeout(r, 2))
      }
    })(),
  )
  return request(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } })
}

t.test('json-validator: valid bodies go on (stripped), invalid ones get a problem document', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled(ENTRY)
    const { proxy, upstream } = await startProxyWithUpstream(t, target, { filters: [nodevoyFilter({ name: 'json', bundle, config })] })
    for (const lengthKnown of [true, false]) {
      const text = JSON.stringify({ name: 'ada', age: 36, tags: ['x'], password: 'secret' })
      const res = await send(`${proxy.url}/api/users`, text, lengthKnown ? { 'content-length': String(Buffer.byteLength(text)) } : {})
      t.equal(res.statusCode, 200, `valid (${lengthKnown ? 'content-length' : 'chunked'}) passes`)
      await res.body.text()
      const seen = upstream.requests.at(-1)!
      t.same(JSON.parse(seen.body), { name: 'ada', age: 36, tags: ['x'] }, 'the upstream got only the named fields')
      t.equal(seen.headers['x-json-validated'], 'true')
      if (lengthKnown) t.equal(seen.headers['content-length'], String(seen.bodyLength), 'with the right content-length')
    }
    const before = upstream.requests.length
    const cases: [string, Record<string, string>, number, RegExp][] = [
      ['{"name": "ada"}', {}, 400, /"field":"age","problem":"required \(number\)"/],
      ['{"name": 1, "age": "x"}', {}, 400, /"field":"age","problem":"expected number, got string".*"field":"name","problem":"expected string, got number"/],
      ['[1, 2]', {}, 400, /expected a JSON object, got array/],
      ['{"name": ', {}, 400, /the body is not JSON/],
      ['{}', { 'content-type': 'text/plain' }, 415, /expected a JSON body/],
      [JSON.stringify({ name: 'x'.repeat(5000), age: 1 }), {}, 413, /at most 4096 are accepted/],
    ]
    for (const [text, headers, status, detail] of cases) {
      const res = await send(`${proxy.url}/api/users`, text, headers)
      t.equal(res.statusCode, status, `${text.slice(0, 30)} -> ${status}`)
      t.equal(res.headers['content-type'], 'application/problem+json')
      t.match(await res.body.text(), detail)
    }
    t.equal(upstream.requests.length, before, 'no refused request reached the upstream')
    const other = await send(`${proxy.url}/other`, 'not json at all')
    t.equal(other.statusCode, 200, 'paths outside the configured ones are not checked')
    await other.body.text()
  }),
)
