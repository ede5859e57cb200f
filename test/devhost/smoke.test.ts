import t from 'tap'
import { request } from 'undici'
import { bootstrap } from '../harness/config.js'
import { startProxy } from '../harness/proxy.js'
import { forEachTarget } from '../harness/targets.js'
import { startUpstream } from '../harness/upstream.js'

t.test('proxies to an upstream and serves a direct response', (t) =>
  forEachTarget(t, async (t, target) => {
    const upstream = await startUpstream()
    t.teardown(() => upstream.close())
    const proxy = await startProxy(
      target,
      bootstrap({
        routes: [{ prefix: '/direct', directResponse: { status: 200, body: 'hi' } }, { prefix: '/' }],
        clusters: { backend: [upstream.port] },
      }),
    )
    t.teardown(() => proxy.stop())
    const direct = await request(`${proxy.url}/direct`)
    t.equal(direct.statusCode, 200)
    t.equal(await direct.body.text(), 'hi')
    const proxied = await request(`${proxy.url}/x?y=1`)
    t.equal(proxied.statusCode, 200)
    const body = (await proxied.body.json()) as { url: string }
    t.equal(body.url, '/x?y=1')
  }),
)
