// Per-route config (issue 10): a typed per-route config (the filter's routeConfig schema), merged
// with the filter's config by its mergeRouteConfig, read through the most specific route config;
// refused at route load with the field path when invalid.
import t from 'tap'
import { request } from 'undici'
import { bootstrap, type RouteDef } from '../harness/config.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { runExpectingFailure, startProxy, type Proxy } from '../harness/proxy.js'
import { forEachTarget } from '../harness/targets.js'

async function routeView(proxy: Proxy, path: string): Promise<unknown> {
  const res = await request(`${proxy.url}${path}`, { headers: { 'x-action': 'route' } })
  await res.body.text()
  return JSON.parse(String(res.headers['x-route']))
}

function perRoute(config: unknown, extra: Record<string, unknown> = {}): NonNullable<RouteDef['perFilter']> {
  return { features: { module: 'nodevoy', filterName: 'features', config: { config, ...extra } as Record<string, unknown> } }
}

t.test('a route config merged with the filter config, per route', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/features.ts')
    const proxy = await startProxy(
      target,
      bootstrap({
        filters: [nodevoyFilter({ name: 'features', bundle, config: { limit: 100 } })],
        routes: [
          { prefix: '/a', directResponse: { status: 200 }, perFilter: perRoute({ limit: 5, label: 'a' }) },
          { prefix: '/b', directResponse: { status: 200 }, perFilter: perRoute({ limit: 7 }, { bundle }) },
          { prefix: '/', directResponse: { status: 200 } },
        ],
      }),
      { concurrency: 2 },
    )
    t.teardown(() => proxy.stop())
    t.same(await routeView(proxy, '/a'), { limit: 5, tickMs: 50, tag: 't', label: 'a', merged: true }, 'route /a: merged by mergeRouteConfig')
    t.same(await routeView(proxy, '/b'), { limit: 7, tickMs: 50, tag: 't', merged: true }, 'route /b: a per-route config naming its bundle')
    t.same(await routeView(proxy, '/other'), { limit: 100, tickMs: 50, tag: 't' }, 'a route without one: the filter config alone')
    // The limit action takes its limit from the route: /a admits 5 per window.
    const window = `route-${Date.now()}`
    const statuses: number[] = []
    for (let i = 0; i < 7; i++) {
      const res = await request(`${proxy.url}/a`, { headers: { 'x-action': 'limit', 'x-client': 'c', 'x-window': window } })
      await res.body.text()
      statuses.push(res.statusCode)
    }
    t.same(statuses, [200, 200, 200, 200, 200, 429, 429], 'the route limit applies')
  }),
)

t.test('an invalid per-route config is refused when the route loads, naming the field', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/features.ts')
    const refuse = (perFilter: NonNullable<RouteDef['perFilter']>, filters = [nodevoyFilter({ name: 'features', bundle })]) =>
      runExpectingFailure(target, bootstrap({ filters, routes: [{ prefix: '/', directResponse: { status: 200 }, perFilter }] }))
    let out = await refuse(perRoute({ limit: 'many' }))
    t.match(out.output, /per-route config 'features' refused: .*filter_config\.config\.limit: /, 'a wrong type: the field path')
    out = await refuse(perRoute({ label: 'x' }))
    t.match(out.output, /per-route config 'features' refused: .*filter_config\.config\.limit: /, 'a missing field: the field path')
    out = await refuse({ features: { module: 'nodevoy', filterName: 'features', config: { limit: 5 } } })
    t.match(out.output, /filter_config\.limit: unknown field \(expected config, bundle, filter\)/, 'the route config goes under "config"')
    out = await refuse({ features: { module: 'nodevoy', filterName: 'elsewhere', config: { config: { limit: 1 } } } })
    t.match(out.output, /no nodevoy filter config named 'elsewhere' is loaded \(loaded: .*features.*\)/, 'an unknown filter name')
    const plain = await bundled('test/filters/worker-identity.ts')
    out = await refuse(
      { who: { module: 'nodevoy', filterName: 'who', config: { config: { a: 1 } } } },
      [nodevoyFilter({ name: 'who', bundle: plain })],
    )
    t.match(out.output, /filter "worker-identity" takes no per-route config \(its definition has no routeConfig schema\)/)
  }),
)
