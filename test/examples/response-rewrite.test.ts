// The response-rewrite example (examples/response-rewrite/filter.ts) through libnodevoy in the proxy.
import t from 'tap'
import { request } from 'undici'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { startProxyWithUpstream } from '../harness/stack.js'
import { forEachTarget } from '../harness/targets.js'

const ENTRY = 'examples/response-rewrite/filter.ts'

t.test('response-rewrite: text bodies rewritten with content-length right; others untouched', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled(ENTRY)
    const config = { replace: [{ from: 'http://internal:8080', to: 'https://example.com' }, { from: 'Acme', to: 'Initech' }] }
    const page = '<a href="http://internal:8080/a">Acme</a> '.repeat(300)
    const { proxy } = await startProxyWithUpstream(t, target, { filters: [nodevoyFilter({ name: 'rewrite', bundle, config })] }, {
      handler: async (req, res) => {
        if (req.url === '/gzip') {
          res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip', 'content-length': '4' })
          res.end('Acme')
          return
        }
        if (req.url === '/image') {
          res.writeHead(200, { 'content-type': 'image/png', 'content-length': '4' })
          res.end('Acme')
          return
        }
        if (req.url === '/chunked') {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
          for (let i = 0; i < page.length; i += 1000) {
            res.write(page.slice(i, i + 1000))
            await new Promise((r) => setTimeout(r, 3))
          }
          res.end()
          return
        }
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(page) })
        res.end(page)
      },
    })
    const expected = page.replaceAll('http://internal:8080', 'https://example.com').replaceAll('Acme', 'Initech')
    for (const path of ['/page', '/chunked']) {
      const res = await request(`${proxy.url}${path}`)
      const body = await res.body.text()
      t.equal(body, expected, `${path}: rewritten`)
      t.equal(res.headers['x-rewritten'], 'true')
      if (path === '/page') t.equal(res.headers['content-length'], String(Buffer.byteLength(expected)), 'content-length follows')
    }
    for (const path of ['/gzip', '/image']) {
      const res = await request(`${proxy.url}${path}`)
      t.equal(await res.body.text(), 'Acme', `${path}: untouched`)
      t.equal(res.headers['x-rewritten'], undefined)
    }
  }),
)
