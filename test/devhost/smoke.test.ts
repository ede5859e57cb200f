import t from 'tap'
import { request } from 'undici'
import { startProxyWithUpstream } from '../harness/stack.js'
import { forEachTarget } from '../harness/targets.js'

t.test('proxies to an upstream and serves a direct response', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await startProxyWithUpstream(t, target, {
      routes: [{ prefix: '/direct', directResponse: { status: 200, body: 'hi' } }, { prefix: '/' }],
    })
    const direct = await request(`${proxy.url}/direct`)
    t.equal(direct.statusCode, 200)
    t.equal(await direct.body.text(), 'hi')
    const proxied = await request(`${proxy.url}/x?y=1`)
    t.equal(proxied.statusCode, 200)
    const body = (await proxied.body.json()) as { url: string }
    t.equal(body.url, '/x?y=1')
  }),
)
