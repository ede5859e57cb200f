// A misbehaving filter costs only its own request.
import t from 'tap'
import { request } from 'undici'
import { bootstrap } from '../harness/config.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { startProxy } from '../harness/proxy.js'
import { forEachTarget } from '../harness/targets.js'

const routes = [{ prefix: '/', directResponse: { status: 200, body: 'fine' } }]

t.test('throwing and rejecting hooks get 500; concurrent good requests succeed', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/sandbox.ts')
    const proxy = await startProxy(target, bootstrap({ filters: [nodevoyFilter({ name: 'sandbox', bundle })], routes }))
    t.teardown(() => proxy.stop())
    const modes = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? 'throw' : i % 3 === 1 ? 'reject' : 'none'))
    const results = await Promise.all(
      modes.map(async (mode) => {
        const res = await request(`${proxy.url}/x`, { headers: mode === 'none' ? {} : { 'x-fail': mode } })
        return { mode, status: res.statusCode, sandbox: res.headers['x-sandbox'], body: await res.body.text() }
      }),
    )
    for (const r of results) {
      if (r.mode === 'none') {
        t.equal(r.status, 200, 'a good request succeeds')
        t.equal(r.sandbox, 'ok')
      } else {
        t.equal(r.status, 500, `${r.mode}: 500`)
      }
    }
    // The log reaches this process through a pipe: wait for it rather than race the response.
    await proxy.waitForLog(/nodevoy: filter 'sandbox' onRequestHeaders failed on stream \d+: Error: filter threw on purpose/)
    t.pass('the failure is logged with filter, hook and stream id')
    await proxy.waitForLog(/filter rejected on purpose/)
    t.pass('a rejection is logged too')
  }),
)

t.test('fail-open lets a failing request through', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/sandbox.ts')
    const proxy = await startProxy(
      target,
      bootstrap({ filters: [nodevoyFilter({ name: 'sandbox', bundle, failOpen: true })], routes }),
    )
    t.teardown(() => proxy.stop())
    for (const mode of ['throw', 'reject']) {
      const res = await request(`${proxy.url}/x`, { headers: { 'x-fail': mode } })
      t.equal(res.statusCode, 200, `${mode}: passes`)
      t.equal(await res.body.text(), 'fine')
    }
  }),
)

t.test('errors outside hooks and process.exit() are logged, not fatal', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/sandbox.ts')
    const proxy = await startProxy(target, bootstrap({ filters: [nodevoyFilter({ name: 'sandbox', bundle })], routes }), {
      concurrency: 1,
    })
    t.teardown(() => proxy.stop())
    for (const mode of ['outside', 'exit']) {
      const res = await request(`${proxy.url}/x`, { headers: { 'x-fail': mode } })
      t.equal(res.statusCode, 200, `${mode}: the request itself succeeds`)
      await res.body.text()
    }
    await proxy.waitForLog(/uncaught exception outside a hook.*thrown in a timer, outside any hook/)
    await proxy.waitForLog(/unhandled promise rejection: Error: a promise nobody handles/)
    await proxy.waitForLog(/called process\.exit\(3\); ignored/)
    const res = await request(`${proxy.url}/x`)
    t.equal(res.statusCode, 200, 'the proxy is still serving')
    await res.body.text()
    const exit = await proxy.stop()
    t.equal(exit.code, 0, 'and exits cleanly')
  }),
)
