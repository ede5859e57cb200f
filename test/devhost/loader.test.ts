// How modules are found and loaded, and which failures refuse the config (envoy-abi.md §1, §4).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { bootstrap } from '../harness/config.js'
import { referenceModulesDir } from '../harness/paths.js'
import { runExpectingFailure, startProxy } from '../harness/proxy.js'
import { forEachTarget } from '../harness/targets.js'

const withFilter = (module: string) =>
  bootstrap({
    filters: [{ name: 'f', module }],
    routes: [{ prefix: '/', directResponse: { status: 200, body: 'ok' } }],
  })

t.test('a module missing from the search path is found through the dynamic linker search', (t) =>
  forEachTarget(t, async (t, target) => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-empty-'))
    t.teardown(() => fs.rmSync(empty, { recursive: true, force: true }))
    const proxy = await startProxy(target, withFilter('noop'), {
      env: { ENVOY_DYNAMIC_MODULES_SEARCH_PATH: empty, LD_LIBRARY_PATH: referenceModulesDir },
    })
    t.teardown(() => proxy.stop())
    const res = await request(proxy.url)
    t.equal(res.statusCode, 200)
    t.equal(await res.body.text(), 'ok')
  }),
)

t.test('a module that cannot be found refuses the config', (t) =>
  forEachTarget(t, async (t, target) => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-empty-'))
    t.teardown(() => fs.rmSync(empty, { recursive: true, force: true }))
    const { code, output } = await runExpectingFailure(target, withFilter('does_not_exist'), {
      env: { ENVOY_DYNAMIC_MODULES_SEARCH_PATH: empty },
    })
    t.not(code, 0)
    t.match(output, /libdoes_not_exist\.so/, 'the log names the file it looked for')
  }),
)

t.test('on_program_init returning NULL fails the load', (t) =>
  forEachTarget(t, async (t, target) => {
    const { code, output } = await runExpectingFailure(target, withFilter('init_null'))
    t.not(code, 0)
    t.match(output, /Failed to initialize dynamic module/)
  }),
)

t.test('an ABI version mismatch only warns; the module loads and serves', (t) =>
  forEachTarget(t, async (t, target) => {
    const proxy = await startProxy(target, withFilter('version_mismatch'))
    t.teardown(() => proxy.stop())
    await proxy.waitForLog(/v9\.9\.9-test/)
    t.pass('the warning names the module version')
    const res = await request(proxy.url)
    t.equal(res.statusCode, 200)
    await res.body.text()
  }),
)

t.test('a missing required hook refuses the config and names the symbol', (t) =>
  forEachTarget(t, async (t, target) => {
    const { code, output } = await runExpectingFailure(target, withFilter('missing_hook'))
    t.not(code, 0)
    t.match(output, /envoy_dynamic_module_on_http_filter_response_trailers/)
  }),
)

t.test('on_http_filter_config_new returning NULL refuses the config', (t) =>
  forEachTarget(t, async (t, target) => {
    const { code, output } = await runExpectingFailure(target, withFilter('config_null'))
    t.not(code, 0)
    t.match(output, /config/i)
  }),
)

t.test('--mode validate loads the modules and exits', (t) =>
  forEachTarget(t, async (t, target) => {
    // Run as a failure-expecting launch: validate mode never becomes ready; it exits 0.
    const { code, output } = await runExpectingFailure(target, withFilter('noop'), { args: ['--mode', 'validate'] })
    t.equal(code, 0, 'exits 0')
    t.match(output, /OK/)
  }),
)
