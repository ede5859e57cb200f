// nodevoy build and nodevoy config: outputs, determinism, Envoy config the dev host accepts, and the
// checks done in libnodevoy before anything is written for Envoy.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import YAML from 'yaml'
import { build } from '../../scripts/commands/build.js'
import { printConfig } from '../../scripts/commands/config.js'
import { TYPE } from '../../scripts/lib/envoy-config.js'
import { libnodevoyPath } from '../../scripts/lib/paths.js'
import { RUNTIMES, runnableHere } from '../../scripts/lib/runtimes.js'
import { devHostBin, libnodeDir, repoRoot, testRuntime } from '../harness/paths.js'
import { scratchDir, writeSource } from '../harness/scratch.js'

const example = path.join(repoRoot, 'examples/basic-auth/filter.ts')

const tmp = (t: Test) => scratchDir(t, 'build')

function writeJson(dir: string, name: string, value: unknown): string {
  const file = path.join(dir, name)
  fs.writeFileSync(file, JSON.stringify(value))
  return file
}

const quiet = { bundlePath: '/etc/nodevoy/bundle.js', quiet: true }

/** Runs the dev host in validate mode on a bootstrap; the generated file minus what the dev host does not implement. */
function validateInDevHost(file: string, searchPath: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) =>
    execFile(
      devHostBin,
      ['--mode', 'validate', '-c', file],
      { env: { ...process.env, ENVOY_DYNAMIC_MODULES_SEARCH_PATH: searchPath, LD_LIBRARY_PATH: libnodeDir } },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
    ),
  )
}

t.test('build writes the bundle, its map, libnodevoy.so, envoy.yaml and a Dockerfile, byte-identical on a rebuild', async (t) => {
  const dir = tmp(t)
  const config = writeJson(dir, 'config.json', { username: 'alice', password: 'wonderland' })
  const first = await build(example, { out: path.join(dir, 'a'), config, ...quiet })
  const second = await build(example, { out: path.join(dir, 'b'), config, ...quiet })
  t.same(first.files.map((f) => path.basename(f)), ['bundle.js', 'bundle.js.map', 'libnodevoy.so', 'envoy.yaml', 'Dockerfile'])
  for (const file of first.files) {
    const twin = path.join(second.outDir, path.basename(file))
    t.ok(fs.readFileSync(file).equals(fs.readFileSync(twin)), `${path.basename(file)} is byte-identical`)
  }
  t.equal(first.chosen.name, 'basic-auth')
  const dockerfile = fs.readFileSync(path.join(first.outDir, 'Dockerfile'), 'utf8')
  t.match(dockerfile, /FROM envoyproxy\/envoy:v1\.40\.0/)
  t.ok(dockerfile.includes(`FROM ${testRuntime.deploy.image}\n`), `on ${testRuntime.deploy.image}, where ${testRuntime.name} is installed`)
  t.match(dockerfile, new RegExp(`install -y --no-install-recommends ${testRuntime.libnode.package} `))
  t.match(dockerfile, /ENVOY_DYNAMIC_MODULES_SEARCH_PATH=\/etc\/nodevoy/)
  t.match(dockerfile, /^USER envoy$/m, 'Envoy runs as a non-root user')
  t.match(dockerfile, /useradd --system .* envoy/)
  t.match(dockerfile, /^COPY bundle\.js \/etc\/nodevoy\/bundle\.js$/m)
  t.match(dockerfile, /^COPY bundle\.js\.map \/etc\/nodevoy\/bundle\.js\.map$/m, 'the source map ships next to the bundle')
  t.match(fs.readFileSync(path.join(first.outDir, 'bundle.js'), 'utf8'), /\/\/# sourceMappingURL=bundle\.js\.map\s*$/)
})

t.test("envoy.yaml: Envoy's type URLs, the config as JSON in a StringValue, an access log; the dev host's loader accepts it", async (t) => {
  const dir = tmp(t)
  const out = path.join(dir, 'out')
  // Values that Envoy's YAML-to-Struct conversion would change: a fraction, a 64-bit integer, "yes".
  const user = { username: 'alice', password: 'yes', realm: 'r', ratio: 0.25, big: 4294967296 }
  const config = writeJson(dir, 'config.json', user)
  await build(example, { out, config, bundlePath: path.join(out, 'bundle.js'), quiet: true })
  const doc = YAML.parse(fs.readFileSync(path.join(out, 'envoy.yaml'), 'utf8'))
  const hcm = doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config
  t.equal(hcm['@type'], TYPE.hcm)
  t.equal(TYPE.hcm, 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager')
  t.same(hcm.access_log, [
    { name: 'envoy.access_loggers.stdout', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog' } },
  ])
  const [filter, router] = hcm.http_filters
  t.equal(filter.typed_config['@type'], 'type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter')
  t.same(Object.keys(filter.typed_config).sort(), ['@type', 'dynamic_module_config', 'filter_config', 'filter_name'])
  t.same(filter.typed_config.dynamic_module_config, { name: 'nodevoy', do_not_close: true })
  t.equal(filter.typed_config.filter_config['@type'], 'type.googleapis.com/google.protobuf.StringValue')
  t.equal(typeof filter.typed_config.filter_config.value, 'string', 'the filter config is a JSON string')
  t.same(JSON.parse(filter.typed_config.filter_config.value), {
    bundle: path.join(out, 'bundle.js'),
    filter: 'basic-auth',
    config: { username: 'alice', password: 'yes', realm: 'r', ratio: 0.25, big: 4294967296 },
  })
  t.equal(router.typed_config['@type'], 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router')
  t.same(doc.static_resources.clusters[0].type, 'STATIC')
  // The dev host loads it like Envoy would: module from the search path, the bundle, config_new. It
  // has no access loggers, so that one field goes.
  delete hcm.access_log
  fs.writeFileSync(path.join(out, 'devhost.yaml'), YAML.stringify(doc))
  const result = await validateInDevHost(path.join(out, 'devhost.yaml'), out)
  t.equal(result.code, 0, result.output)
  t.match(result.output, /configuration '.*devhost\.yaml' OK/)
})

t.test('build --upstream: IPv4 and IPv6 addresses give a STATIC cluster, host names a STRICT_DNS one', async (t) => {
  const dir = tmp(t)
  const config = writeJson(dir, 'config.json', { username: 'alice', password: 'wonderland' })
  const cases: [string, string, string, number][] = [
    ['10.1.2.3:9000', 'STATIC', '10.1.2.3', 9000],
    ['[fd00::1]:8443', 'STATIC', 'fd00::1', 8443],
    ['orders.internal:8080', 'STRICT_DNS', 'orders.internal', 8080],
  ]
  for (const [upstream, type, address, port] of cases) {
    const out = path.join(dir, type + port)
    await build(example, { out, config, upstream, ...quiet })
    const text = fs.readFileSync(path.join(out, 'envoy.yaml'), 'utf8')
    const cluster = YAML.parse(text).static_resources.clusters[0]
    t.equal(cluster.type, type, `${upstream}: ${type}`)
    t.same(cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, { address, port_value: port })
    if (type === 'STRICT_DNS') t.equal(cluster.dns_lookup_family, 'V4_PREFERRED')
    t.match(text, new RegExp(`sends requests to ${upstream.replace(/[[\].]/g, '\\$&')}`), 'the header comment names the upstream')
  }
  for (const bad of ['orders.internal', '::1:80', 'a_b:80', '1.2.3:80', 'host:0', 'host:70000']) {
    await t.rejects(build(example, { out: path.join(dir, 'x'), config, upstream: bad, ...quiet }), {
      code: 'NODEVOY_ERR_INVALID_ARGUMENT',
      message: /--upstream must be host:port/,
    }, `refuses ${bad}`)
  }
})

t.test('build --cluster: clusters for callouts in envoy.yaml, bad ones refused with what is wrong', async (t) => {
  const dir = tmp(t)
  const config = writeJson(dir, 'config.json', { username: 'alice', password: 'wonderland' })
  const out = path.join(dir, 'clusters')
  await build(example, { out, config, clusters: ['auth=10.0.0.7:9000', 'jwks.v2=keys.internal:443'], ...quiet })
  const text = fs.readFileSync(path.join(out, 'envoy.yaml'), 'utf8')
  const clusters = YAML.parse(text).static_resources.clusters as Record<string, any>[]
  t.same(clusters.map((c) => [c.name, c.type]), [['upstream', 'STATIC'], ['auth', 'STATIC'], ['jwks.v2', 'STRICT_DNS']])
  t.same(clusters[2]!.load_assignment, {
    cluster_name: 'jwks.v2',
    endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'keys.internal', port_value: 443 } } } }] }],
  })
  t.match(text, /has the clusters auth, jwks\.v2 for the filter's callouts/, 'the header comment names them')
  const refusals: [string[], RegExp][] = [
    [['auth'], /--cluster must be name=host:port .*got "auth"/],
    [['=1.2.3.4:80'], /--cluster must be name=host:port/],
    [['a b=1.2.3.4:80'], /--cluster must be name=host:port with a name of letters/],
    [['auth=nowhere'], /--cluster auth: must be host:port .*got "nowhere"/],
    [['upstream=1.2.3.4:80'], /--cluster "upstream" is the cluster behind the filter/],
    [['auth=1.2.3.4:80', 'auth=1.2.3.5:80'], /--cluster auth is given twice/],
  ]
  for (const [clusters, message] of refusals) {
    await t.rejects(build(example, { out: path.join(dir, 'x'), config, clusters, ...quiet }), { code: 'NODEVOY_ERR_INVALID_ARGUMENT', message }, `refuses ${clusters.join(' ')}`)
  }
  t.notOk(fs.existsSync(path.join(dir, 'x', 'envoy.yaml')), 'nothing for Envoy was written')
})

t.test('build refuses bad input with a clear, coded error', async (t) => {
  const dir = tmp(t)
  const out = path.join(dir, 'o')
  await t.rejects(build(path.join(dir, 'missing.ts'), { out, ...quiet }), { code: 'NODEVOY_ERR_INVALID_ARGUMENT', message: /no such file/ })
  const notAFilter = path.join(dir, 'plain.ts')
  fs.writeFileSync(notAFilter, 'export const answer = 42\n')
  await t.rejects(build(notAFilter, { out, ...quiet }), {
    code: 'NODEVOY_ERR_NO_FILTER',
    message: /exports no filter: export the result of defineFilter\(\)/,
  })
  const broken = path.join(dir, 'broken.ts')
  fs.writeFileSync(broken, 'export default defineFilter({ name: \n')
  await t.rejects(build(broken, { out, ...quiet }), { code: 'NODEVOY_ERR_BUILD_FAILED', message: /bundling .* failed:\n.*broken\.ts:\d+:\d+/ })
  const bad = writeJson(dir, 'bad.json', { username: 'alice' })
  await t.rejects(build(example, { out, config: bad, ...quiet }), {
    code: 'NODEVOY_ERR_INVALID_CONFIG',
    issues: [{ path: ['password'] }],
    message: /invalid config for filter "basic-auth": password: .*The config came from .*bad\.json/,
  })
  await t.rejects(build(example, { out, bundlePath: 'relative/bundle.js', quiet: true }), { message: /--bundle-path must be absolute/ })
  t.notOk(fs.existsSync(path.join(out, 'envoy.yaml')), 'nothing for Envoy was written')
})

t.test('build checks the filter in libnodevoy: what Envoy would refuse is refused here', async (t) => {
  const dir = tmp(t)
  const out = path.join(dir, 'o')
  const write = (name: string, source: string) => writeSource(dir, name, source)
  // A schema that needs config, and no --config: Envoy hands libnodevoy no config, the filter gets {}.
  await t.rejects(build(example, { out, ...quiet }), {
    code: 'NODEVOY_ERR_INVALID_CONFIG',
    message: /username: .*No config was given.*pass its config with --config/,
  })
  const throwing = write('throws.ts', `import { defineFilter } from 'nodevoy'
export default defineFilter({ name: 'throws', create() { throw new Error('no key file') } })
`)
  await t.rejects(build(throwing, { out, ...quiet }), {
    code: 'NODEVOY_ERR_CREATE_FAILED',
    message: /create\(\) of filter "throws" threw.*\n\s+Error: no key file\n\s+at .*throws\.ts:2:\d+/,
  })
  const topLevel = write('top.ts', `import { defineFilter } from 'nodevoy'
export default defineFilter({ name: 'top', create: () => ({}) })
JSON.parse('{')
`)
  await t.rejects(build(topLevel, { out, ...quiet }), { code: 'NODEVOY_ERR_LOAD_FAILED', message: /top-level code threw:\n\s+SyntaxError[^]*at .*top\.ts:3:/ })
  // APIs newer than Node 18: the check is about the runtime's own builtins, shown where they are missing.
  if (testRuntime.name === 'node18') {
    const styleText = write('style.ts', `import { styleText } from 'node:util'
import { defineFilter } from 'nodevoy'
export default defineFilter({ name: 'style', create: () => ({ onRequestHeaders(h) { h.set('x', styleText('red', 'x')) } }) })
`)
    await t.rejects(build(styleText, { out, ...quiet }), {
      code: 'NODEVOY_ERR_UNSUPPORTED_API',
      message: /"styleText" from "node:util" \(imported by .*style\.ts\): not in Node 18\.20's node:util/,
    })
    const sea = write('sea.ts', `import { defineFilter } from 'nodevoy'
export default defineFilter({ name: 'sea', create: () => ({ onRequestHeaders() { require('node:sea') } }) })
`)
    await t.rejects(build(sea, { out, ...quiet }), { code: 'NODEVOY_ERR_UNSUPPORTED_API', message: /"node:sea" \(imported by .*sea\.ts\): no such module in Node 18\.20/ })
  }
  const two = write('two.ts', `import { defineFilter } from 'nodevoy'
export const a = defineFilter({ name: 'a', create: () => ({}) })
export const b = defineFilter({ name: 'b', create: () => ({}) })
`)
  await t.rejects(build(two, { out, ...quiet }), { code: 'NODEVOY_ERR_NO_FILTER', message: /several filters \("a", "b"\); choose one with --filter/ })
  await t.rejects(build(two, { out, filter: 'c', ...quiet }), { code: 'NODEVOY_ERR_NO_FILTER', message: /no filter named "c"; the entry exports "a", "b"/ })
  t.equal((await build(two, { out, filter: 'b', ...quiet })).chosen.name, 'b')
  t.notOk(fs.existsSync(path.join(dir, 'nodevoy-scan.mjs')), 'the builtins scan wrote nothing')
})

t.test('build warns about unknown hook names, and is not disturbed by a bundle that prints', async (t) => {
  const dir = tmp(t)
  const entry = writeSource(
    dir,
    'typo.ts',
    `import { defineFilter } from 'nodevoy'
console.log('{"not": "the report"}')
process.stdout.write('more output\\n')
export default defineFilter({
  name: 'typo',
  create: () => ({ onRequestHeaders() {}, onResponseHeader() {} }),
})
`,
  )
  const result = await build(entry, { out: path.join(dir, 'o'), ...quiet })
  t.equal(result.chosen.name, 'typo')
  t.match(result.warnings, [/filter "typo": create\(\) returned "onResponseHeader", which is not a hook nodevoy calls \(did you mean "onResponseHeaders"\?\)/])
})

t.test('config files: JSON or YAML (YAML 1.2, passed on as JSON), syntax errors with line and column', async (t) => {
  const dir = tmp(t)
  const out = path.join(dir, 'o')
  const yamlFile = path.join(dir, 'config.yaml')
  fs.writeFileSync(yamlFile, 'username: alice\npassword: "on"\nrealm: yes\n')
  await build(example, { out, config: yamlFile, ...quiet })
  const entry = YAML.parse(fs.readFileSync(path.join(out, 'envoy.yaml'), 'utf8')).static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0]
  t.same(JSON.parse(entry.typed_config.filter_config.value).config, { username: 'alice', password: 'on', realm: 'yes' }, 'yes stays a string')
  const badYaml = path.join(dir, 'bad.yaml')
  fs.writeFileSync(badYaml, 'username: alice\npassword: [wonderland\n')
  await t.rejects(build(example, { out, config: badYaml, ...quiet }), { message: /config file .*bad\.yaml is not valid YAML at line \d+, column \d+: / })
  const badJson = path.join(dir, 'bad.json')
  fs.writeFileSync(badJson, '{\n  "username": "alice",\n  "password": }\n')
  await t.rejects(build(example, { out, config: badJson, ...quiet }), { message: /config file .*bad\.json is not valid JSON at line 3, column 15: unexpected "}"/ })
})

t.test('config prints the http_filters entry for an existing bundle', async (t) => {
  const dir = tmp(t)
  const c = writeJson(dir, 'c0.json', { username: 'u', password: 'p' })
  const { bundle } = await build(example, { out: path.join(dir, 'o'), config: c, ...quiet })
  const config = writeJson(dir, 'c.json', { username: 'u', password: 'p', ratio: 0.25 })
  const text = await printConfig(bundle, { config, bundlePath: '/srv/bundle.js' })
  t.match(text, /^# Add to your HTTP connection manager's http_filters/)
  const entries = YAML.parse(text)
  t.equal(entries.length, 1)
  t.equal(entries[0].name, 'basic-auth')
  t.same(JSON.parse(entries[0].typed_config.filter_config.value), {
    bundle: '/srv/bundle.js',
    filter: 'basic-auth',
    config: { username: 'u', password: 'p', ratio: 0.25 },
  })
  await t.rejects(printConfig(bundle, { bundlePath: '/srv/bundle.js' }), { code: 'NODEVOY_ERR_INVALID_CONFIG', message: /No config was given/ })
})

t.test('the temporary files of a build are removed', async (t) => {
  const before = new Set(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('nodevoy-inspect-')))
  const dir = tmp(t)
  await t.rejects(build(example, { out: path.join(dir, 'o'), ...quiet }))
  const after = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('nodevoy-inspect-') && !before.has(n))
  t.same(after, [])
})

t.test('build --runtime: the bundle targets that runtime, libnodevoy.so embeds it, the Dockerfile installs it', async (t) => {
  const dir = tmp(t)
  const config = writeJson(dir, 'config.json', { username: 'alice', password: 'wonderland' })
  for (const info of Object.values(RUNTIMES)) {
    let module: string
    try {
      module = libnodevoyPath(info.name)
    } catch {
      t.comment(`skipping ${info.name}: libnodevoy is not built for it here (bash scripts/build-module.sh --runtime ${info.name})`)
      continue
    }
    const result = await build(example, { out: path.join(dir, info.name), config, runtime: info.name, ...quiet })
    t.equal(result.runtime, info.name)
    const built = fs.readFileSync(path.join(result.outDir, 'libnodevoy.so'))
    t.ok(built.equals(fs.readFileSync(module)), `${info.name}: libnodevoy.so is the module built for it`)
    t.ok(built.includes(Buffer.from(`${info.libnode.soname}\0`)), `${info.name}: it links ${info.libnode.soname}`)
    const dockerfile = fs.readFileSync(path.join(result.outDir, 'Dockerfile'), 'utf8')
    t.ok(dockerfile.includes(`FROM ${info.deploy.image}\n`), `${info.name}: the image is ${info.deploy.image}`)
    t.match(dockerfile, new RegExp(`install -y --no-install-recommends ${info.libnode.package} `))
    t.match(dockerfile, /Security fixes: /)
    if (runnableHere(info)) {
      t.equal(result.checkedOn, info.name, `${info.name} runs here: the filter was checked on it`)
    } else {
      t.equal(result.checkedOn, testRuntime.name, `${info.name} does not run here: checked on ${testRuntime.name}`)
      t.ok(result.warnings.some((w) => w.includes(`${info.name}'s libnode`) && w.includes('not checked against')), 'and a warning says so')
    }
  }
  await t.rejects(build(example, { out: path.join(dir, 'x'), config, runtime: 'node99', ...quiet }), { message: /unknown runtime "node99"/ })
})
