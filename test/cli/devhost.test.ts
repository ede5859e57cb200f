// nodevoy/devhost (startFilter): filters tested through real HTTP in libnodevoy inside the dev host.
// Configs validated by any Standard Schema library with field paths, the config reaching the filter
// exactly as given, source-mapped stack traces in the logs, and coded errors for every mistake.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import t, { type Test } from 'tap'
import { request } from 'undici'
import * as devhost from '../../scripts/devhost.js'
import { ConfigError, NodevoyError, startFilter } from '../../scripts/devhost.js'
import { testRuntime } from '../harness/paths.js'
import { scratchDir, writeSource } from '../harness/scratch.js'

const project = (t: Test) => scratchDir(t, 'devhost')
const file = writeSource

// The same config schema in three Standard Schema libraries; each must refuse bad configs with the
// field paths and give create() the validated (and defaulted) output.
const validators: Record<string, string> = {
  zod3: `import { z } from 'zod3'
const Config = z.object({ port: z.number().int(), upstream: z.object({ name: z.string() }), label: z.string().default('none') })`,
  valibot: `import * as v from 'valibot'
const Config = v.object({ port: v.pipe(v.number(), v.integer()), upstream: v.object({ name: v.string() }), label: v.optional(v.string(), 'none') })`,
  arktype: `import { type } from 'arktype'
const Config = type({ port: 'number.integer', upstream: { name: 'string' }, label: "string = 'none'" })`,
}

for (const [library, schema] of Object.entries(validators)) {
  t.test(`a ${library} config schema: typed config, refusals with field paths`, async (t) => {
    const dir = project(t)
    const entry = file(
      dir,
      'filter.ts',
      `${schema}
import { defineFilter } from 'nodevoy'
export default defineFilter({
  name: 'typed',
  config: Config,
  create: (config) => {
    const port: number = config.port
    const name: string = config.upstream.name
    return { onResponseHeaders(headers) { headers.set('x-config', \`\${port} \${name} \${config.label}\`) } }
  },
})
`,
    )
    const filter = await startFilter(entry, { config: { port: 8080, upstream: { name: 'orders' } } })
    t.teardown(() => filter.stop())
    const res = await request(filter.url)
    await res.body.text()
    t.equal(res.headers['x-config'], '8080 orders none', 'create() got the validated output, default included')
    const error = await startFilter(entry, { config: { port: 'x', upstream: { name: 7 } } }).then(
      () => undefined,
      (e: unknown) => e,
    )
    t.ok(error instanceof ConfigError, 'a ConfigError')
    t.ok(error instanceof NodevoyError, 'a NodevoyError')
    const configError = error as ConfigError
    t.equal(configError.code, 'NODEVOY_ERR_INVALID_CONFIG')
    t.same(configError.issues.map((i) => i.path).sort(), [['port'], ['upstream', 'name']], 'every issue with its path')
    t.match(configError.message, /invalid config for filter "typed": .*port: .*upstream\.name: /s)
    t.match(configError.message, /The config came from the `config` option/)
  })
}

t.test("the config reaches the filter exactly as given (JSON in a StringValue, not Envoy's YAML conversion)", async (t) => {
  const entry = file(
    project(t),
    'echo.ts',
    `import { defineFilter } from 'nodevoy'
export default defineFilter({ name: 'echo', create: (config) => ({ onResponseHeaders(h) { h.set('x-config', JSON.stringify(config)) } }) })
`,
  )
  const config = { ratio: 0.25, big: 4294967296, flag: 'yes', on: 'on', nested: { list: [1, 'y', false, null] } }
  const filter = await startFilter(entry, { config })
  t.teardown(() => filter.stop())
  const res = await request(filter.url)
  await res.body.text()
  t.same(JSON.parse(String(res.headers['x-config'])), config)
  const none = await startFilter(entry)
  t.teardown(() => none.stop())
  const res2 = await request(none.url)
  await res2.body.text()
  t.equal(res2.headers['x-config'], '{}', 'no config: {} as in Envoy')
})

t.test('stack traces in the logs point into the TypeScript source', async (t) => {
  const entry = file(
    project(t),
    'throws.ts',
    `import { defineFilter } from 'nodevoy'

export default defineFilter({
  name: 'throws',
  create: () => ({
    onRequestHeaders() {
      throw new Error('deliberate')
    },
  }),
})
`,
  )
  const filter = await startFilter(entry)
  t.teardown(() => filter.stop())
  const res = await request(filter.url)
  await res.body.text()
  t.equal(res.statusCode, 500)
  const deadline = Date.now() + 10_000
  while (!/deliberate/.test(filter.logs()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  t.match(filter.logs(), /onRequestHeaders failed on stream \d+: Error: deliberate\n\s+at Object\.onRequestHeaders \(.*throws\.ts:7:13\)/)
})

t.test('startFilter rejects with coded errors that name its options, not CLI flags', async (t) => {
  const dir = project(t)
  const needs = file(
    dir,
    'needs.ts',
    `import { defineFilter } from 'nodevoy'
import { z } from 'zod'
export default defineFilter({ name: 'needs', config: z.object({ key: z.string() }), create: () => ({}) })
`,
  )
  await t.rejects(startFilter(needs), { code: 'NODEVOY_ERR_INVALID_CONFIG', message: /No config was given.*pass its config with the `config` option/ })
  const two = file(
    dir,
    'two.ts',
    `import { defineFilter } from 'nodevoy'
export const a = defineFilter({ name: 'a', create: () => ({}) })
export const b = defineFilter({ name: 'b', create: () => ({}) })
`,
  )
  await t.rejects(startFilter(two), { code: 'NODEVOY_ERR_NO_FILTER', message: /choose one with the `filter` option/ })
  await t.rejects(startFilter(file(dir, 'broken.ts', 'export default {\n')), { code: 'NODEVOY_ERR_BUILD_FAILED', message: /broken\.ts:2:0/ })
  await t.rejects(startFilter(path.join(dir, 'missing.ts')), { code: 'NODEVOY_ERR_INVALID_ARGUMENT', message: /no such file/ })
  await t.rejects(startFilter(two, { filter: 'a', upstream: 'nowhere' }), { code: 'NODEVOY_ERR_INVALID_ARGUMENT', message: /^the `upstream` option must be host:port/ })
  await t.rejects(startFilter(two, { filter: 'a', clusters: { auth: 'nowhere' } }), { code: 'NODEVOY_ERR_INVALID_ARGUMENT', message: /^the `clusters` option auth: must be host:port/ })
  await t.rejects(startFilter(two, { filter: 'a', clusters: { upstream: '127.0.0.1:1' } }), { code: 'NODEVOY_ERR_INVALID_ARGUMENT', message: /"upstream" is the cluster behind the filter/ })
  const creates = file(dir, 'creates.ts', `import { defineFilter } from 'nodevoy'
export default defineFilter({ name: 'c', create() { throw new TypeError('bad setup') } })
`)
  await t.rejects(startFilter(creates), { code: 'NODEVOY_ERR_CREATE_FAILED', message: /TypeError: bad setup\n\s+at .*creates\.ts:2:/ })
  const asyncSchema = file(dir, 'async.ts', `import { defineFilter } from 'nodevoy'
import { z } from 'zod'
export default defineFilter({ name: 'slow', config: z.object({ a: z.string().refine(async () => true) }), create: () => ({}) })
`)
  await t.rejects(startFilter(asyncSchema, { config: { a: 'x' } }), { code: 'NODEVOY_ERR_INVALID_ARGUMENT', message: /validates asynchronously/ })
  const notSchema = file(dir, 'notschema.ts', `import { defineFilter } from 'nodevoy'
export default defineFilter({ name: 'n', config: { parse: (v: unknown) => v } as never, create: () => ({}) })
`)
  await t.rejects(startFilter(notSchema), { code: 'NODEVOY_ERR_LOAD_FAILED', message: /`config` must be a Standard Schema/ })
})

t.test('a mistyped hook name is logged as a warning in the dev host too', async (t) => {
  const entry = file(
    project(t),
    'typo.ts',
    `import { defineFilter } from 'nodevoy'
export default defineFilter({ name: 'typo', create: () => ({ onRequestHeaders() {}, onRequestHeader() {} }) })
`,
  )
  const filter = await startFilter(entry)
  t.teardown(() => filter.stop())
  t.match(filter.logs(), /\[warning\]\[dynamic_modules\].*\[typo\] create\(\) returned "onRequestHeader", which is not a hook nodevoy calls \(did you mean "onRequestHeaders"\?\)/)
})

t.test('startFilter runs the filter on the runtime it names, the one `nodevoy build` deploys by default', async (t) => {
  const entry = file(
    project(t),
    'version.ts',
    `import { defineFilter } from 'nodevoy'
export default defineFilter({ name: 'version', create: () => ({ onResponseHeaders(h) { h.set('x-node', process.version) } }) })
`,
  )
  const filter = await startFilter(entry)
  t.teardown(() => filter.stop())
  t.equal(filter.runtime, testRuntime.name)
  const res = await request(filter.url)
  await res.body.text()
  const major = testRuntime.nodeVersion.split('.')[0]
  t.match(String(res.headers['x-node']), new RegExp(`^v${major}\\.`), `the filter ran on Node ${major} (${testRuntime.libnode.package})`)
})

t.test('startFilter clusters: stream.fetch reaches a service as an Envoy cluster', async (t) => {
  // The service: answers 200 with who the caller is for the right token, else 403.
  const server = http.createServer((req, res) => {
    const ok = req.headers.authorization === 'Bearer good'
    res.writeHead(ok ? 200 : 403, { 'x-user': ok ? 'alice' : '' }).end(ok ? 'ok' : 'no')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const port = (server.address() as AddressInfo).port
  const dir = project(t)
  const entry = file(
    dir,
    'authz.ts',
    `import { defineFilter } from 'nodevoy'
export default defineFilter({
  name: 'authz',
  create: () => ({
    async onRequestHeaders(headers, stream) {
      const res = await stream.fetch('auth', '/check', { headers: { authorization: headers.get('authorization') ?? '' }, timeoutMs: 2000 })
      if (!res.ok) return stream.sendLocalReply(res.status, await res.text())
      headers.set('x-user', res.headers.get('x-user') ?? '')
    },
    onResponseHeaders(headers, stream) {
      headers.set('x-checked', 'yes')
    },
  }),
})
`,
  )
  const filter = await startFilter(entry, { clusters: { auth: `127.0.0.1:${port}` } })
  t.teardown(() => filter.stop())
  const allowed = await request(filter.url + '/', { headers: { authorization: 'Bearer good' } })
  await allowed.body.text()
  t.equal(allowed.statusCode, 200, 'allowed by the service')
  t.equal(allowed.headers['x-checked'], 'yes')
  const denied = await request(filter.url + '/', { headers: { authorization: 'Bearer bad' } })
  t.equal(denied.statusCode, 403, "the service's answer")
  t.equal(await denied.body.text(), 'no')
  const stats = await (await fetch(filter.adminUrl + '/stats')).text()
  t.match(stats, /cluster\.auth\.upstream_rq_total: 2/, "the calls went through Envoy's cluster (its stats count them)")
})
