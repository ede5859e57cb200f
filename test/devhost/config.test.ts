// The bootstrap loader: strict, with the field path in every error (devhost-specific wording;
// real Envoy rejects the same configs with its own messages, so the path check runs on both).
import t from 'tap'
import YAML from 'yaml'
import { bootstrap } from '../harness/config.js'
import { runExpectingFailure } from '../harness/proxy.js'
import { forEachTarget } from '../harness/targets.js'

function withMutation(mutate: (config: any) => void): Record<string, unknown> {
  const config: any = bootstrap({ routes: [{ prefix: '/', directResponse: { status: 200 } }] })
  mutate(config)
  return config
}

t.test('an unknown field is rejected, not ignored', (t) =>
  forEachTarget(t, async (t, target) => {
    const { code, output } = await runExpectingFailure(
      target,
      withMutation((c) => (c.static_resources.listeners[0].bogus_field = 1)),
    )
    t.not(code, 0)
    t.match(output, /bogus_field/)
  }),
)

t.test('a bad value is rejected with its field', (t) =>
  forEachTarget(t, async (t, target) => {
    const { code, output } = await runExpectingFailure(
      target,
      withMutation((c) => (c.static_resources.listeners[0].address.socket_address.port_value = 'eighty')),
    )
    t.not(code, 0)
    t.match(output, /port_value|eighty/)
  }),
)

t.test('the router must be the last HTTP filter', (t) =>
  forEachTarget(t, async (t, target) => {
    const config = withMutation((c) => {
      const hcm = c.static_resources.listeners[0].filter_chains[0].filters[0].typed_config
      hcm.http_filters.push({
        name: 'f',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter',
          dynamic_module_config: { name: 'noop' },
        },
      })
    })
    const { code, output } = await runExpectingFailure(target, config)
    t.not(code, 0)
    t.match(output, /last filter/)
  }),
)

t.test('the dev host names the full field path', async (t) => {
  const { code, output } = await runExpectingFailure(
    'devhost',
    YAML.stringify(withMutation((c) => (c.static_resources.clusters = [{ name: 'x', type: 'STATIC', typo: true }]))),
  )
  t.not(code, 0)
  t.match(output, /static_resources\.clusters\[0\]\.typo: unknown field/)
})
