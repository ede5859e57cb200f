// The scenario table (table.ts) through the testing kit: plain Node, no Envoy, no dev host.
import t from 'tap'
import { testFilter, type UpstreamAnswer } from '../../sdk/testing/index.js'
import { filterModule } from '../harness/kit.js'
import { scenarios, serviceAnswer, type UpstreamSpec } from './table.js'
import { checkOutcome, type Outcome } from './check.js'

function answer(spec: UpstreamSpec | undefined, request: { method: string; path: string; body: Uint8Array }): UpstreamAnswer {
  if (spec?.echo) {
    return { status: spec.status ?? 200, headers: { 'x-echo-method': request.method, 'x-echo-path': request.path }, body: Buffer.from(request.body).toString() }
  }
  return { status: spec?.status ?? 200, headers: spec?.headers, body: spec?.body, trailers: spec?.trailers }
}

t.test('every scenario through the testing kit', async (t) => {
  const exports = await filterModule('test/scenarios/filter.ts')
  for (const scenario of scenarios) {
    await t.test(scenario.name, async (t) => {
      const filter = testFilter(exports, {
        config: scenario.config,
        failOpen: scenario.failOpen,
        bufferLimit: scenario.bufferLimit,
        clusters: {
          service: (req) => serviceAnswer(req.method, req.path, Buffer.from(req.body).toString(), req.headers.find(([k]) => k === 'x-check')?.[1]),
        },
      })
      const res = await filter.request({
        method: scenario.request.method,
        path: scenario.request.path,
        headers: scenario.request.headers,
        body: scenario.request.body,
        routeConfig: scenario.routeConfig,
        upstream: (req) => answer(scenario.upstream, req),
      })
      const outcome: Outcome = {
        status: res.status,
        headers: res.headers,
        body: res.body,
        trailers: res.trailers,
        upstream: res.upstream && {
          method: res.upstream.method,
          path: res.upstream.path,
          headers: Object.fromEntries(res.upstream.headers),
          body: Buffer.from(res.upstream.body).toString(),
        },
      }
      checkOutcome(t, scenario, outcome)
      t.equal(filter.metric('seen', { scenario: scenario.request.headers?.['x-scenario'] ?? '' }), 1, 'the filter counted the scenario')
      filter.destroy()
    })
  }
})
