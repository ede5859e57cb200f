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

// google.protobuf.Struct in protobuf's wire format: what Envoy v1.38 hands the module for a per-route
// Struct (anyToBytes). A BytesValue carries the same bytes to the module on every release.
function varint(n: number): Buffer {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return Buffer.from(out)
}
const field = (number: number, bytes: Buffer) => Buffer.concat([varint((number << 3) | 2), varint(bytes.length), bytes])
function protoValue(value: unknown): Buffer {
  if (typeof value === 'number') {
    const bits = Buffer.alloc(9)
    bits[0] = 0x11 // number_value: field 2, fixed64
    bits.writeDoubleLE(value, 1)
    return bits
  }
  if (typeof value === 'string') return field(3, Buffer.from(value))
  return field(5, protoStruct(value as Record<string, unknown>))
}
function protoStruct(object: Record<string, unknown>): Buffer {
  return Buffer.concat(Object.entries(object).map(([key, value]) => field(1, Buffer.concat([field(1, Buffer.from(key)), field(2, protoValue(value))]))))
}

t.test('a per-route config as a serialized Struct (Envoy v1.38) reads as its JSON; broken bytes are refused saying where', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/features.ts')
    const filters = [nodevoyFilter({ name: 'features', bundle, config: { limit: 100 } })]
    const asBytes = (object: Record<string, unknown>): NonNullable<RouteDef['perFilter']> => ({
      features: { module: 'nodevoy', filterName: 'features', config: { bytes: protoStruct(object) } },
    })
    const label = 'quote " backslash \\ newline \n'
    const proxy = await startProxy(
      target,
      bootstrap({ filters, routes: [{ prefix: '/', directResponse: { status: 200 }, perFilter: asBytes({ config: { limit: 3, label } }) }] }),
    )
    t.teardown(() => proxy.stop())
    t.same(await routeView(proxy, '/'), { limit: 3, tickMs: 50, tag: 't', label, merged: true }, 'decoded and merged')
    await proxy.stop()
    const refuse = (perFilter: NonNullable<RouteDef['perFilter']>) =>
      runExpectingFailure(target, bootstrap({ filters, routes: [{ prefix: '/', directResponse: { status: 200 }, perFilter }] }))
    let out = await refuse(asBytes({ config: { limit: 3.5 } }))
    t.match(out.output, /filter_config\.config\.limit: /, 'the decoded config is checked by the routeConfig schema')
    out = await refuse(asBytes({ config: { limit: Number.NaN } }))
    t.match(out.output, /neither a serialized google\.protobuf\.Struct .* as a Struct, at byte \d+ \(config\.limit\): Value\.number_value is NaN/, 'NaN: the key path')
    const whole = protoStruct({ config: { limit: 3 } })
    out = await refuse({ features: { module: 'nodevoy', filterName: 'features', config: { bytes: whole.subarray(0, whole.length - 3) } } })
    t.match(out.output, /as a Struct, at byte 1: truncated Struct\.fields entry: length \d+, \d+ bytes left/, 'truncated bytes')
  }),
)
