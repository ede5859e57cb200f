// Loading and configuration as the module sees it: on_program_init, on_http_filter_config_new
// (filter_name, config bytes, concurrency), per-route configs, and refused configs
// (test/modules/README.md §5.1, §5.9 "Per-route config"; docs/envoy-facts.md §2, §21).
import t from 'tap'
import { bootstrap } from '../harness/config.js'
import { runExpectingFailure } from '../harness/proxy.js'
import { startProxyWithUpstream } from '../harness/stack.js'
import { forEachTarget } from '../harness/targets.js'
import { probe, rep, reportsOf, send } from './abi.support.js'

t.test('program_init once per object; config_new gets filter_name and the config bytes; get_concurrency', (t) =>
  forEachTarget(t, async (t, target) => {
    const configA = { label: 'a', metric_prefix: 'cfg_a', actions: '', config_scheduler_delay_ms: 5 }
    const configB = { label: 'b', metric_prefix: 'cfg_b', terminal: false }
    // A StringValue reaches the module as its raw bytes (envoy-facts §21).
    const configC = '{"label":"c","metric_prefix":"cfg_c"}'
    const { proxy } = await startProxyWithUpstream(
      t,
      target,
      {
        filters: [
          probe('a', configA, { filterName: 'probe_first' }),
          probe('b', configB, { filterName: 'probe_second' }),
          { name: 'probe-c', module: 'probe', filterName: 'probe_third', config: configC },
        ],
      },
      { concurrency: 3 },
    )

    // `config` without @label runs in every instance.
    const res = await send(proxy, { headers: { 'x-probe': 'config' } })
    t.equal(res.status, 200)
    for (const label of ['a', 'b', 'c']) {
      t.equal(rep(res, label, 'program-init-calls'), '1', `${label}: on_program_init ran once for the one object`)
      t.equal(rep(res, label, 'concurrency'), '3', `${label}: get_concurrency equals --concurrency`)
      t.equal(rep(res, label, 'validation-mode'), 'false', `${label}: not validation mode`)
      t.equal(rep(res, label, 'config-new-on-init-thread'), 'true', `${label}: config_new on the thread of program_init`)
    }
    t.equal(rep(res, 'a', 'filter-name'), 'probe_first')
    t.equal(rep(res, 'b', 'filter-name'), 'probe_second')
    t.equal(rep(res, 'c', 'filter-name'), 'probe_third')

    // A Struct arrives as JSON (key order and spacing are the converter's, so compare parsed).
    const bytesA = decodeURIComponent(rep(res, 'a', 'filter-config') ?? '')
    t.same(JSON.parse(bytesA), configA, 'a: the Struct as JSON')
    t.equal(rep(res, 'a', 'filter-config-length'), String(Buffer.byteLength(bytesA)))
    t.same(JSON.parse(decodeURIComponent(rep(res, 'b', 'filter-config') ?? '')), configB, 'b: the Struct as JSON')
    t.equal(decodeURIComponent(rep(res, 'c', 'filter-config') ?? ''), configC, 'c: the StringValue byte for byte')
    t.equal(rep(res, 'c', 'filter-config-length'), String(configC.length))

    const ids = ['a', 'b', 'c'].map((l) => rep(res, l, 'config-id'))
    t.equal(new Set(ids).size, 3, `one config per instance (ids ${ids.join(',')})`)
  }),
)

t.test('per-route config: DynamicModuleFilterPerRoute is seen; FilterConfig disabled skips the filter', (t) =>
  forEachTarget(t, async (t, target) => {
    const routeConfig = { route: 'per', n: 1 }
    const { proxy, upstream } = await startProxyWithUpstream(t, target, {
      filters: [probe('a'), probe('b')],
      routes: [
        {
          path: '/per',
          perFilter: { 'probe-a': { module: 'probe', filterName: 'route_cfg_name', config: routeConfig } },
        },
        { path: '/off', perFilter: { 'probe-a': { disabled: true } } },
        { prefix: '/' },
      ],
    })

    const per = await send(proxy, { path: '/per', headers: { 'x-probe': 'route-config' } })
    t.equal(per.status, 200)
    t.equal(rep(per, 'a', 'route-config-name'), 'route_cfg_name', 'the per-route filter_name')
    t.same(JSON.parse(decodeURIComponent(rep(per, 'a', 'route-config') ?? '')), routeConfig, 'the per-route bytes')
    t.equal(rep(per, 'b', 'route-config'), '(none)', 'no per-route config for the other filter')

    const plain = await send(proxy, { path: '/plain', headers: { 'x-probe': 'route-config' } })
    t.equal(plain.status, 200)
    t.equal(rep(plain, 'a', 'route-config-name'), '(none)', 'a route without one gives NULL')

    const before = upstream.requests.length
    const off = await send(proxy, { path: '/off', headers: { 'x-probe': 'config' } })
    t.equal(off.status, 200, 'the request still reaches the upstream')
    t.equal(upstream.requests.length, before + 1)
    t.same(reportsOf(off, 'a'), [], 'the disabled filter did not run')
    t.ok(rep(off, 'b', 'config-id'), 'the next filter did')
  }),
)

// The counter `dynamic_modules.config_init_error.config_name.<filter_name>` (envoy-facts §2) is not
// checked: a refused static config makes the proxy exit before its admin endpoint serves /stats, so
// it cannot be observed. What can be observed is the failed start and the log naming the failure.
t.test('a refused filter config stops start-up and the log names the failure', (t) =>
  forEachTarget(t, async (t, target) => {
    const rejected = await runExpectingFailure(
      target,
      bootstrap({
        filters: [probe('r', { reject: true }, { filterName: 'refused_probe' })],
        routes: [{ prefix: '/', directResponse: { status: 200 } }],
      }),
    )
    t.not(rejected.code, 0, 'the proxy does not start')
    t.match(rejected.output, /probe\[r\]: rejecting the filter config \("reject": true\)/, "the module's own reason")
    if (target === 'devhost') t.match(rejected.output, /refused_probe/, 'the host names the filter')

    const invalid = await runExpectingFailure(
      target,
      bootstrap({
        filters: [probe('r', { bogus: 1 })],
        routes: [{ prefix: '/', directResponse: { status: 200 } }],
      }),
    )
    t.not(invalid.code, 0)
    t.match(invalid.output, /probe: invalid filter_config: field "bogus" is unknown/)
  }),
)
