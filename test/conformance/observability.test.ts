// What a module reports outside the stream: log lines (log, log_v2, log_enabled, get_log_level) and
// metrics (define/update, labels, errors, the config-level counter) (test/modules/README.md §5.9, §6;
// docs/envoy-facts.md §1, §10, §11).
import t, { type Test } from 'tap'
import { bootstrap } from '../harness/config.js'
import { startProxy, type StartOptions } from '../harness/proxy.js'
import { startProxyWithUpstream } from '../harness/stack.js'
import { forEachTarget } from '../harness/targets.js'
import { pairs, probe, rep, send, until } from './abi.support.js'

const STAMP = String.raw`\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}\]\[\d+\]`

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** A whole log line in Envoy's default format from the dynamic_modules logger. */
function moduleLine(level: string, location: string, message: string): RegExp {
  return new RegExp(`^${STAMP}\\[${level}\\]\\[dynamic_modules\\] \\[${location}\\] ${escapeRe(message)}$`, 'm')
}

async function logProxy(t: Test, target: Parameters<typeof startProxy>[0], opts: StartOptions = {}) {
  const proxy = await startProxy(
    target,
    bootstrap({ filters: [probe('a')], routes: [{ prefix: '/', directResponse: { status: 200, body: 'ok' } }] }),
    opts,
  )
  t.teardown(() => proxy.stop())
  return proxy
}

t.test("logging: a module line in Envoy's format; log_v2 carries the module's file and line", (t) =>
  forEachTarget(t, async (t, target) => {
    const proxy = await logProxy(t, target)
    const res = await send(proxy, {
      headers: { 'x-probe': 'log@a', 'x-probe-log': 'info:hello-123', 'x-probe-log-v2': 'error:v2%20msg' },
    })
    t.equal(res.status, 200)
    t.equal(rep(res, 'a', 'log-result'), 'sent')
    t.equal(rep(res, 'a', 'log-v2-result'), 'sent')
    // The deprecated callback has no source location: spdlog prints the empty location as `[:]`.
    const line = await proxy.waitForLog(moduleLine('info', ':', 'hello-123'))
    t.ok(line, `log: ${line}`)
    const v2 = await proxy.waitForLog(moduleLine('error', String.raw`probe\.c:\d+`, 'v2 msg'))
    t.ok(v2, `log_v2: ${v2}`)
  }),
)

t.test('log_enabled and get_log_level follow --log-level and --component-log-level', (t) =>
  forEachTarget(t, async (t, target) => {
    const settings: { name: string; opts: StartOptions; enabled: Record<string, string>; level: string }[] = [
      {
        name: 'default (info)',
        opts: {},
        enabled: { trace: '0', debug: '0', info: '1', warn: '1', error: '1', critical: '1' },
        level: 'info',
      },
      {
        name: '--log-level warning',
        opts: { logLevel: 'warning' },
        enabled: { trace: '0', debug: '0', info: '0', warn: '1', error: '1', critical: '1' },
        level: 'warn',
      },
      {
        name: '--component-log-level dynamic_modules:debug',
        opts: { logLevel: 'info', componentLogLevel: 'dynamic_modules:debug' },
        enabled: { trace: '0', debug: '1', info: '1', warn: '1', error: '1', critical: '1' },
        level: 'debug',
      },
    ]
    for (const s of settings) {
      const proxy = await logProxy(t, target, s.opts)
      const marker = `marker-${s.level}`
      const res = await send(proxy, {
        headers: { 'x-probe': 'log@a', 'x-probe-log': `debug:below-${s.level}`, 'x-probe-log-v2': `critical:${marker}` },
      })
      t.same(pairs(rep(res, 'a', 'log-enabled')), s.enabled, `${s.name}: log_enabled per level`)
      t.equal(rep(res, 'a', 'log-level'), s.level, `${s.name}: get_log_level`)
      // Lines are written in call order: once the critical marker is out, the debug line has its answer.
      await proxy.waitForLog(moduleLine('critical', String.raw`probe\.c:\d+`, marker))
      const debugLine = moduleLine('debug', ':', `below-${s.level}`)
      if (s.enabled.debug === '1') t.match(proxy.logs(), debugLine, `${s.name}: the debug line is written`)
      else t.notMatch(proxy.logs(), debugLine, `${s.name}: the debug line is dropped`)
      await proxy.stop()
    }
  }),
)

t.test('metrics: defined in config_new, shown under dynamicmodulescustom, updated per request; errors', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await startProxyWithUpstream(t, target, {
      filters: [probe('a', { metric_prefix: 'obs_a' }), probe('b', { metric_prefix: 'obs_b' })],
    })
    const ns = 'dynamicmodulescustom'

    for (let i = 0; i < 3; i++) t.equal((await send(proxy, { path: '/get' })).status, 200)
    t.equal((await send(proxy, { path: '/post', body: 'x' })).status, 200)
    const res = await send(proxy, {
      headers: { 'x-probe': 'metrics@a', 'x-probe-counter': '5', 'x-probe-gauge': 'set:7', 'x-probe-histogram': '42' },
    })
    t.same(
      pairs(rep(res, 'a', 'metric-results')),
      { custom: '0', gauge: '0', values: '0', define_late: '3', wrong_labels: '2', bad_id: '1' },
      'updates succeed; define at request time is Frozen (3), a wrong label count InvalidLabels (2), a bad id MetricNotFound (1)',
    )
    t.same(pairs(rep(res, 'a', 'metric-request-results')), { requests: '0', requests_by_method: '0', inflight: '0' })

    const stats = await until(
      () => proxy.stats(),
      (s) => s.get(`${ns}.obs_a_requests`) === '5' && s.get(`${ns}.obs_a_inflight`) === '0',
    )
    t.equal(stats.get(`${ns}.obs_a_requests`), '5', 'a counter')
    t.equal(stats.get(`${ns}.obs_a_requests_by_method.method.GET`), '4', 'a labelled counter: <name>.<label>.<value>')
    t.equal(stats.get(`${ns}.obs_a_requests_by_method.method.POST`), '1')
    t.equal(stats.get(`${ns}.obs_a_custom`), '5')
    t.equal(stats.get(`${ns}.obs_a_gauge`), '7', 'a gauge')
    t.equal(stats.get(`${ns}.obs_a_inflight`), '0', 'inflight back to 0 after stream_complete')
    t.ok(stats.has(`${ns}.obs_a_values`), 'the histogram is listed')
    t.equal(stats.get(`${ns}.obs_b_requests`), '5', "the other instance's own metrics")
    t.equal(stats.get(`${ns}.obs_b_custom`), '0')
    t.notOk(stats.has(`${ns}.obs_a_late`), 'the refused late definition created nothing')

    // Increments are reflected.
    await send(proxy, { headers: { 'x-probe': 'metrics@a', 'x-probe-counter': '2', 'x-probe-gauge': 'dec:3' } })
    await send(proxy, { headers: { 'x-probe': 'metrics@a', 'x-probe-gauge': 'inc:1' } })
    const later = await until(
      () => proxy.stats(),
      (s) => s.get(`${ns}.obs_a_custom`) === '7' && s.get(`${ns}.obs_a_gauge`) === '5',
    )
    t.equal(later.get(`${ns}.obs_a_custom`), '7', 'counter +2')
    t.equal(later.get(`${ns}.obs_a_gauge`), '5', 'gauge -3 then +1')
    t.equal(later.get(`${ns}.obs_a_requests`), '7')
  }),
)

t.test('the config-level counter is incremented from on_http_filter_config_scheduled', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy } = await startProxyWithUpstream(t, target, {
      filters: [probe('a', { metric_prefix: 'cfgev_a', config_scheduler_delay_ms: 5 }), probe('b', { metric_prefix: 'cfgev_b', config_scheduler: false })],
    })
    const name = 'dynamicmodulescustom.cfgev_a_config_events'
    const value = await until(() => proxy.stat(name), (v) => v === 1)
    t.equal(value, 1, 'one config event, one increment')
    t.equal(await proxy.stat('dynamicmodulescustom.cfgev_b_config_events'), 0, 'no config scheduler, no increment')
    const res = await send(proxy, { headers: { 'x-probe': 'config@a' } })
    t.equal(rep(res, 'a', 'config-counter-result'), '0', 'config_increment_counter returned Success')
  }),
)
