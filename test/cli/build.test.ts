// nodevoy build and nodevoy config: outputs, determinism, and Envoy config the dev host accepts.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import YAML from 'yaml'
import { build } from '../../scripts/commands/build.js'
import { printConfig } from '../../scripts/commands/config.js'
import { TYPE } from '../../scripts/lib/envoy-config.js'
import { devHostBin, libnodeDir, repoRoot } from '../harness/paths.js'

const example = path.join(repoRoot, 'examples/basic-auth/filter.ts')

function tmp(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-cli-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

function writeJson(dir: string, name: string, value: unknown): string {
  const file = path.join(dir, name)
  fs.writeFileSync(file, JSON.stringify(value))
  return file
}

t.test('build writes the bundle, libnodevoy.so, envoy.yaml and a Dockerfile, byte-identical on a rebuild', async (t) => {
  const dir = tmp(t)
  const config = writeJson(dir, 'config.json', { username: 'alice', password: 'wonderland' })
  const first = await build(example, { out: path.join(dir, 'a'), config, bundlePath: '/etc/nodevoy/bundle.js', quiet: true })
  const second = await build(example, { out: path.join(dir, 'b'), config, bundlePath: '/etc/nodevoy/bundle.js', quiet: true })
  t.same(first.files.map((f) => path.basename(f)), ['bundle.js', 'bundle.js.map', 'libnodevoy.so', 'envoy.yaml', 'Dockerfile'])
  for (const file of first.files) {
    const twin = path.join(second.outDir, path.basename(file))
    t.ok(fs.readFileSync(file).equals(fs.readFileSync(twin)), `${path.basename(file)} is byte-identical`)
  }
  t.equal(first.chosen.name, 'basic-auth')
  const dockerfile = fs.readFileSync(path.join(first.outDir, 'Dockerfile'), 'utf8')
  t.match(dockerfile, /FROM envoyproxy\/envoy:v1\.40\.0/)
  t.match(dockerfile, /FROM debian:12/)
  t.match(dockerfile, /libnode108/)
  t.match(dockerfile, /ENVOY_DYNAMIC_MODULES_SEARCH_PATH=\/etc\/nodevoy/)
})

t.test("envoy.yaml uses Envoy's type URLs and field names, and the dev host's loader accepts it", async (t) => {
  const dir = tmp(t)
  const out = path.join(dir, 'out')
  const config = writeJson(dir, 'config.json', { username: 'alice', password: 'wonderland', realm: 'r' })
  await build(example, { out, config, bundlePath: path.join(out, 'bundle.js'), quiet: true })
  const doc = YAML.parse(fs.readFileSync(path.join(out, 'envoy.yaml'), 'utf8'))
  const hcm = doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config
  t.equal(hcm['@type'], TYPE.hcm)
  t.equal(TYPE.hcm, 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager')
  const [filter, router] = hcm.http_filters
  t.equal(filter.typed_config['@type'], 'type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter')
  t.same(Object.keys(filter.typed_config).sort(), ['@type', 'dynamic_module_config', 'filter_config', 'filter_name'])
  t.same(filter.typed_config.dynamic_module_config, { name: 'nodevoy', do_not_close: true })
  t.equal(filter.typed_config.filter_config['@type'], 'type.googleapis.com/google.protobuf.Struct')
  t.same(filter.typed_config.filter_config.value.config, { username: 'alice', password: 'wonderland', realm: 'r' })
  t.equal(router.typed_config['@type'], 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router')
  // The dev host loads it like Envoy would: module from the search path, the bundle, config_new.
  const result = await new Promise<{ code: number; output: string }>((resolve) =>
    execFile(
      devHostBin,
      ['--mode', 'validate', '-c', path.join(out, 'envoy.yaml')],
      { env: { ...process.env, ENVOY_DYNAMIC_MODULES_SEARCH_PATH: out, LD_LIBRARY_PATH: libnodeDir } },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
    ),
  )
  t.equal(result.code, 0, result.output)
  t.match(result.output, /configuration '.*envoy\.yaml' OK/)
})

t.test('build refuses bad input with a clear error', async (t) => {
  const dir = tmp(t)
  await t.rejects(build(path.join(dir, 'missing.ts'), { out: path.join(dir, 'o'), bundlePath: '/x/bundle.js', quiet: true }), {
    message: /no such file/,
  })
  const notAFilter = path.join(dir, 'plain.ts')
  fs.writeFileSync(notAFilter, 'export const answer = 42\n')
  await t.rejects(build(notAFilter, { out: path.join(dir, 'o'), bundlePath: '/x/bundle.js', quiet: true }), {
    message: /exports no filter: export the result of defineFilter\(\)/,
  })
  const broken = path.join(dir, 'broken.ts')
  fs.writeFileSync(broken, 'export default defineFilter({ name: \n')
  await t.rejects(build(broken, { out: path.join(dir, 'o'), bundlePath: '/x/bundle.js', quiet: true }), {
    message: /bundling .* failed:\n.*broken\.ts:\d+:\d+/,
  })
  const bad = writeJson(dir, 'bad.json', { username: 'alice' })
  await t.rejects(build(example, { out: path.join(dir, 'o'), config: bad, bundlePath: '/x/bundle.js', quiet: true }), {
    message: /invalid for filter "basic-auth":\n\s+password: /,
  })
  await t.rejects(build(example, { out: path.join(dir, 'o'), bundlePath: 'relative/bundle.js', quiet: true }), {
    message: /--bundle-path must be absolute/,
  })
})

t.test('config prints the http_filters entry for an existing bundle', async (t) => {
  const dir = tmp(t)
  const { bundle } = await build(example, { out: path.join(dir, 'o'), bundlePath: '/etc/nodevoy/bundle.js', quiet: true })
  const config = writeJson(dir, 'c.json', { username: 'u', password: 'p' })
  const text = await printConfig(bundle, { config, bundlePath: '/srv/bundle.js' })
  t.match(text, /^# Add to your HTTP connection manager's http_filters/)
  const entries = YAML.parse(text)
  t.equal(entries.length, 1)
  t.equal(entries[0].name, 'basic-auth')
  t.same(entries[0].typed_config.filter_config.value, { bundle: '/srv/bundle.js', filter: 'basic-auth', config: { username: 'u', password: 'p' } })
})
