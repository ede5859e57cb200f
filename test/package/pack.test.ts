// The published package, as a newcomer meets it, reading only the README: `npm pack`, install the
// tarball in an empty directory (nothing compiled, no install scripts), `nodevoy init`, `npm install`
// of what the scaffold asks for, type-check with the shipped preset (and with zod 3 and valibot
// configs), `npm test` (node:test + tsx + nodevoy/devhost), `nodevoy build`, the built output run on
// the dev host that ships in the package, `nodevoy dev`, the shipped examples, and the error messages
// of common mistakes. One project for the whole journey: one pack, two installs.
import { execFile, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import YAML from 'yaml'
import { launchProxy, listenerPort, moduleEnv, waitReady } from '../../scripts/lib/devhost.js'
import { libnodeDir, repoRoot } from '../harness/paths.js'
import { startUpstream } from '../harness/upstream.js'

t.setTimeout(1_500_000)

interface RunResult {
  code: number
  stdout: string
  stderr: string
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return new Promise((resolve) =>
    execFile(cmd, args, { cwd, env, maxBuffer: 64 << 20, timeout: 600_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  )
}

async function ok(cmd: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  const result = await run(cmd, args, cwd, env)
  if (result.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${result.code}):\n${result.stdout}\n${result.stderr}`)
  return result
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-newcomer-'))
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }))
const project = path.join(work, 'my-filter')
const installed = path.join(project, 'node_modules', 'nodevoy')
const nodevoy = (args: string[]) => run(path.join(project, 'node_modules', '.bin', 'nodevoy'), args, project)
const joseVersion = JSON.parse(fs.readFileSync(path.join(repoRoot, 'node_modules', 'jose', 'package.json'), 'utf8')).version as string

/** Runs a built envoy.yaml on the dev host that ships in the package, on free ports, in front of an upstream. */
async function runBuilt(t: Test, out: string): Promise<string> {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const document = YAML.parse(fs.readFileSync(path.join(out, 'envoy.yaml'), 'utf8'))
  document.admin.address.socket_address.port_value = 0
  document.static_resources.listeners[0].address.socket_address = { address: '127.0.0.1', port_value: 0 }
  document.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value = upstream.port
  // The dev host has no access loggers (Envoy does): that field goes for this local run.
  delete document.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.access_log
  fs.writeFileSync(path.join(out, 'local.yaml'), YAML.stringify(document))
  const adminPath = path.join(out, 'admin-address')
  const host = launchProxy({
    bin: path.join(installed, 'prebuilds', 'linux-x64', 'nodevoy-devhost'),
    configPath: path.join(out, 'local.yaml'),
    adminAddressPath: adminPath,
    concurrency: 1,
    env: moduleEnv(out, libnodeDir),
  })
  t.teardown(async () => {
    host.child.kill('SIGTERM')
    await host.exited
  })
  const admin = await waitReady(host, adminPath, 30_000)
  return `http://127.0.0.1:${await listenerPort(admin)}`
}

t.test('pack: build the prebuilds from the current sources and pack', async (t) => {
  // Always rebuild: a prebuild left from an earlier build would test stale code.
  await ok('bash', ['scripts/prebuild.sh'], repoRoot)
  const { stdout } = await ok('npm', ['pack', '--json', '--pack-destination', work], repoRoot)
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[]
  const files = packed!.files.map((f) => f.path)
  for (const expected of [
    'presets/tsconfig.json',
    'presets/tsconfig.node18.json',
    'presets/tsconfig.node24.json',
    'examples/basic-auth/filter.ts',
    'examples/jwt/README.md',
    'container/Dockerfile',
    'container/devcontainer.json',
    'container/README.md',
    'dist/scripts/devhost.js',
    'dist/scripts/devhost.d.ts',
    'prebuilds/linux-x64/nodevoy.node',
    'prebuilds/linux-x64/node20/nodevoy.node',
    'prebuilds/linux-x64/node22/nodevoy.node',
    'prebuilds/linux-x64/node24/nodevoy.node',
    'prebuilds/linux-x64/nodevoy-devhost',
    'scripts/setup-libnode.sh',
  ]) {
    t.ok(files.includes(expected), `ships ${expected}`)
  }
  t.notOk(files.includes('binding.gyp'), 'no binding.gyp (npm would announce and run node-gyp rebuild)')
  t.notOk(files.some((f) => f.startsWith('test/') || f.startsWith('host/')), 'no tests, no C++ sources')
  const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'))
  t.same(Object.keys(manifest.dependencies).sort(), ['commander', 'esbuild', 'node-gyp-build', 'yaml'], 'runtime dependencies: the CLI and bundler only')
  t.same(manifest.peerDependenciesMeta, { zod: { optional: true } }, 'zod is an optional peer')
  t.notOk(manifest.scripts.install, 'no install script')
  t.equal(manifest.gypfile, false, 'npm never adds node-gyp rebuild')
  for (const field of ['repository', 'homepage', 'bugs']) t.ok(manifest[field], `package.json has ${field}`)
  fs.renameSync(path.join(work, packed!.filename), path.join(work, 'nodevoy.tgz'))
})

t.test('install: the tarball in an empty directory, nothing compiled, no install script announced', async (t) => {
  fs.mkdirSync(project)
  const install = await ok('npm', ['install', '--no-audit', '--no-fund', path.join(work, 'nodevoy.tgz')], project)
  const output = install.stdout + install.stderr
  t.notMatch(output, /node-gyp|nodevoy@[^ ]+ install/, `npm says nothing about building nodevoy:\n${output}`)
  t.ok(fs.existsSync(path.join(installed, 'prebuilds', 'linux-x64', 'nodevoy.node')), 'libnodevoy prebuild installed')
  t.notOk(fs.existsSync(path.join(installed, 'build')), 'nothing was compiled on install')
  t.notOk(fs.existsSync(path.join(installed, '.deps')), 'libnode is not put into node_modules')
  const setup = await nodevoy(['setup'])
  t.equal(setup.code, 0, setup.stderr)
  t.match(setup.stderr, /libnode is ready in (\/|.*\/nodevoy\/libnode108)\n/, 'libnode: the system one or the per-user cache, shared by projects')
})

t.test('init: a filter project that type-checks with the preset and whose tests pass', async (t) => {
  const init = await nodevoy(['init'])
  t.equal(init.code, 0, init.stderr)
  t.match(init.stderr, /filter "my-filter" is ready[^]*npm install[^]*npm test/)
  for (const file of ['src/filter.ts', 'config.json', 'test/filter.test.ts', 'tsconfig.json', '.gitignore']) {
    t.ok(fs.existsSync(path.join(project, file)), `wrote ${file}`)
  }
  const manifest = JSON.parse(fs.readFileSync(path.join(project, 'package.json'), 'utf8'))
  t.match(manifest.dependencies.nodevoy, /^file:/, 'the installed nodevoy was kept')
  t.equal(manifest.type, 'module')
  t.same(Object.keys(manifest.scripts).sort(), ['build', 'dev', 'test', 'typecheck'])
  t.match(manifest.devDependencies['@types/node'], /^\^18\./, '@types/node for the embedded Node 18')
  // What the scaffold asks for, plus what later steps use: zod 3 (as zod3), valibot, jose.
  await ok('npm', ['install', '--no-audit', '--no-fund'], project)
  await ok('npm', ['install', '--no-audit', '--no-fund', 'zod3@npm:zod@^3.25.0', 'valibot@^1.5.0', `jose@${joseVersion}`], project)
  const typecheck = await run('npm', ['run', 'typecheck'], project)
  t.equal(typecheck.code, 0, `tsc passes with the preset:\n${typecheck.stdout}`)
  const test = await run('npm', ['test'], project)
  t.equal(test.code, 0, `the scaffold's tests pass:\n${test.stdout}\n${test.stderr}`)
  t.match(test.stdout, /# pass 3\n/, 'three node:test tests')
  t.match(test.stdout, /# fail 0\n/)
  const again = await nodevoy(['init'])
  t.match(again.stderr, /kept src\/filter\.ts \(exists; --force overwrites it\)/, 'init never overwrites silently')
})

t.test('type-checking with the preset: runtime gaps are type errors; zod 3 and valibot configs are typed', async (t) => {
  const src = path.join(project, 'src')
  fs.writeFileSync(
    path.join(src, 'gaps.ts'),
    `import { styleText } from 'node:util'
export const sorted = [3, 1, 2].toSorted()
export const styled = styleText('red', 'x')
`,
  )
  fs.writeFileSync(
    path.join(src, 'zod3.ts'),
    `import { z } from 'zod3'
import { defineFilter } from 'nodevoy'
export default defineFilter({
  name: 'zod3',
  config: z.object({ port: z.number(), name: z.string().default('x') }),
  create: (config) => {
    const port: number = config.port
    const name: string = config.name
    const wrong: string = config.port
    return { onRequestHeaders(h) { h.set('x-port', String(port) + name + wrong) } }
  },
})
`,
  )
  fs.writeFileSync(
    path.join(src, 'valibot.ts'),
    `import * as v from 'valibot'
import { defineFilter } from 'nodevoy'
export default defineFilter({
  name: 'valibot',
  config: v.object({ limit: v.number(), tags: v.array(v.string()) }),
  create: (config) => {
    const tags: string[] = config.tags
    const wrong: boolean = config.limit
    return { onRequestHeaders(h) { h.set('x-tags', tags.join(',') + wrong) } }
  },
})
`,
  )
  const { stdout } = await run('npx', ['tsc', '-p', '.'], project)
  const errors = stdout.split('\n').filter((l) => /error TS\d+/.test(l))
  t.ok(errors.some((l) => /src\/gaps\.ts\(1,10\): error TS(2305|2724): Module '"node:util"' has no exported member .*'styleText'/.test(l)), 'styleText: not in Node 18')
  t.ok(errors.some((l) => /src\/gaps\.ts\(2,\d+\): error TS2550: Property 'toSorted' does not exist .*Try changing the 'lib'/.test(l)), 'toSorted: not in ES2022')
  t.ok(errors.some((l) => /src\/zod3\.ts\(9,11\): error TS2322: Type 'number' is not assignable to type 'string'/.test(l)), 'zod 3: config typed from the schema')
  t.ok(errors.some((l) => /src\/valibot\.ts\(8,11\): error TS2322: Type 'number' is not assignable to type 'boolean'/.test(l)), 'valibot: config typed from the schema')
  t.equal(errors.length, 4, `exactly these errors, the correct lines type-check:\n${stdout}`)
  for (const file of ['gaps.ts', 'zod3.ts', 'valibot.ts']) fs.rmSync(path.join(src, file))
})

t.test('build: the scaffolded filter, run on the dev host that ships in the package', async (t) => {
  const out = path.join(project, 'out')
  const build = await nodevoy(['build', 'src/filter.ts', '--config', 'config.json', '--out', 'out', '--bundle-path', path.join(out, 'bundle.js')])
  t.equal(build.code, 0, build.stderr)
  t.match(build.stderr, /filter "my-filter" is ready in out/)
  const url = await runBuilt(t, out)
  const res = await request(url)
  await res.body.text()
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-greeting'], 'hello from nodevoy', 'the config reached the filter')
  const denied = await request(url, { headers: { 'x-deny': '1' } })
  t.equal(denied.statusCode, 403)
  t.equal(await denied.body.text(), 'denied\n')
})

t.test('dev: the installed CLI serves, and Ctrl-C leaves nothing behind', async (t) => {
  const tmp = fs.mkdtempSync(path.join(work, 'tmp-'))
  const child = spawn(path.join(project, 'node_modules', '.bin', 'nodevoy'), ['dev', 'src/filter.ts', '--config', 'config.json', '--port', '0'], {
    cwd: project,
    env: { ...process.env, TMPDIR: tmp },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const deadline = Date.now() + 60_000
  let url: string | undefined
  while (!url && Date.now() < deadline) {
    url = /nodevoy dev: (http:\/\/127\.0\.0\.1:\d+) ->/.exec(stderr)?.[1]
    await new Promise((r) => setTimeout(r, 50))
  }
  t.ok(url, `nodevoy dev printed its URL:\n${stderr}`)
  if (url) {
    const res = await request(url)
    await res.body.text()
    t.equal(res.headers['x-greeting'], 'hello from nodevoy')
  }
  child.kill('SIGINT')
  t.equal(await exited, 0, 'exits 0 on Ctrl-C')
  t.same(fs.readdirSync(tmp), [], 'no temporary files left')
})

t.test('the mistakes a newcomer makes get messages that say what to do', async (t) => {
  const write = (name: string, source: string) => fs.writeFileSync(path.join(project, 'src', name), source)
  const build = (entry: string, ...args: string[]) => nodevoy(['build', `src/${entry}`, '--out', 'out-mistakes', ...args])
  const noConfig = await build('filter.ts')
  t.not(noConfig.code, 0)
  t.match(noConfig.stderr, /nodevoy: invalid config for filter "my-filter": greeting: .*No config was given.*pass its config with --config/)
  write('typo.ts', `import { defineFilter } from 'nodevoy'
console.log('top-level output does not disturb the build')
export default defineFilter({ name: 'typo', create: () => ({ onRequestHeaders() {}, onResponseHeader() {} }) })
`)
  const typo = await build('typo.ts')
  t.equal(typo.code, 0, typo.stderr)
  t.match(typo.stderr, /warning: filter "typo": create\(\) returned "onResponseHeader", which is not a hook nodevoy calls \(did you mean "onResponseHeaders"\?\)/)
  write('api.ts', `import { styleText } from 'node:util'
import { defineFilter } from 'nodevoy'
export default defineFilter({ name: 'api', create: () => ({ onRequestHeaders(h) { h.set('x', styleText('red', 'x')) } }) })
`)
  const api = await build('api.ts')
  t.match(api.stderr, /"styleText" from "node:util" \(imported by src\/api\.ts\): not in Node 18\.20's node:util/)
  write('throws.ts', `import { defineFilter } from 'nodevoy'
export default defineFilter({ name: 'throws', create() { throw new Error('cannot read the key') } })
`)
  const throws = await build('throws.ts')
  t.match(throws.stderr, /create\(\) of filter "throws" threw \(Envoy would refuse this config\):\n\s+Error: cannot read the key\n\s+at .*src\/throws\.ts:2:/)
  fs.writeFileSync(path.join(project, 'bad.yaml'), 'greeting: [unclosed\n')
  const yaml = await build('filter.ts', '--config', 'bad.yaml')
  t.match(yaml.stderr, /config file bad\.yaml is not valid YAML at line \d+, column \d+/)
  const bad = await build('filter.ts', '--upstream', 'localhost')
  t.match(bad.stderr, /--upstream must be host:port/)
  for (const file of ['typo.ts', 'api.ts', 'throws.ts']) fs.rmSync(path.join(project, 'src', file))
})

t.test('the shipped examples build and run: basic-auth, and jwt with jose', async (t) => {
  const examples = path.join(installed, 'examples')
  fs.writeFileSync(path.join(project, 'basic.json'), JSON.stringify({ username: 'alice', password: 'wonderland' }))
  const out = path.join(project, 'out-basic')
  const basic = await nodevoy(['build', path.join(examples, 'basic-auth', 'filter.ts'), '--config', 'basic.json', '--out', 'out-basic', '--bundle-path', path.join(out, 'bundle.js')])
  t.equal(basic.code, 0, basic.stderr)
  const url = await runBuilt(t, out)
  const denied = await request(url)
  t.equal(denied.statusCode, 401)
  t.equal(await denied.body.text(), 'no Authorization')
  const allowed = await request(url, { headers: { authorization: 'Basic ' + Buffer.from('alice:wonderland').toString('base64') } })
  t.equal(allowed.statusCode, 200, "the upstream's answer")
  await allowed.body.text()

  const { privateKey, publicKey } = await generateKeyPair('RS256')
  const jwksPath = path.join(project, 'jwks.json')
  fs.writeFileSync(jwksPath, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' }] }))
  fs.writeFileSync(path.join(project, 'jwt.json'), JSON.stringify({ jwksPath, issuer: 'https://issuer.test', audience: 'orders' }))
  const jwtOut = path.join(project, 'out-jwt')
  const jwt = await nodevoy(['build', path.join(examples, 'jwt', 'filter.ts'), '--config', 'jwt.json', '--out', 'out-jwt', '--bundle-path', path.join(jwtOut, 'bundle.js')])
  t.equal(jwt.code, 0, jwt.stderr)
  const jwtUrl = await runBuilt(t, jwtOut)
  const token = await new SignJWT({ sub: 'alice' })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer('https://issuer.test')
    .setAudience('orders')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(privateKey)
  const valid = await request(jwtUrl, { headers: { authorization: `Bearer ${token}` } })
  t.equal(valid.statusCode, 200, 'a valid token is authorised')
  await valid.body.text()
  const missing = await request(jwtUrl)
  t.equal(missing.statusCode, 401, 'no token: 401')
  await missing.body.text()
})

t.test('without a prebuild for this platform, the CLI says which platform and what to do', async (t) => {
  fs.renameSync(path.join(installed, 'prebuilds'), path.join(installed, 'prebuilds.hidden'))
  t.teardown(() => fs.renameSync(path.join(installed, 'prebuilds.hidden'), path.join(installed, 'prebuilds')))
  const failed = await nodevoy(['build', 'src/filter.ts', '--config', 'config.json', '--out', 'out2'])
  t.not(failed.code, 0)
  t.match(failed.stderr, /nodevoy: no nodevoy dev host for linux-x64 .*Reinstall nodevoy|nodevoy: no prebuilt libnodevoy for linux-x64 in .*prebuilds .*Reinstall nodevoy/)
})
