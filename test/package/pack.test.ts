// The published package, as a new user meets it: `npm pack`, install the tarball in an empty project
// with PREBUILDS_ONLY=1 (no compiler involved), `nodevoy build` an example there, and run the output
// on the dev host that ships in the package.
import { execFile } from 'node:child_process'
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

t.setTimeout(900_000)

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { cwd, env, maxBuffer: 64 << 20, timeout: 600_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${cmd} ${args.join(' ')} failed:\n${stdout}\n${stderr}`))
      else resolve({ stdout, stderr })
    }),
  )
}

let tarball: string | undefined

/** Packs nodevoy once per test process, after building the prebuilds from the current sources. */
async function packOnce(): Promise<string> {
  if (tarball) return tarball
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-pack-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  // Always rebuild: a prebuild left from an earlier build would test stale code.
  await run('bash', ['scripts/prebuild.sh'], repoRoot)
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], repoRoot)
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string }[]
  tarball = path.join(dir, packed!.filename)
  return tarball
}

/** An empty project with the packed nodevoy (and extra packages) installed from the tarball. */
async function newProject(t: Test, extra: string[] = []): Promise<string> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-user-'))
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }))
  const pack = await packOnce()
  const project = path.join(work, 'project')
  fs.mkdirSync(project)
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'my-filters', private: true, type: 'module' }))
  await run('npm', ['install', '--no-audit', '--no-fund', pack, ...extra], project, { ...process.env, PREBUILDS_ONLY: '1' })
  return project
}
/** Builds `filter.ts` of the project with the installed CLI, then runs the output on the shipped dev host. */
async function buildAndRun(t: Test, project: string, config: unknown): Promise<string> {
  const installed = path.join(project, 'node_modules', 'nodevoy')
  fs.writeFileSync(path.join(project, 'config.json'), JSON.stringify(config))
  const out = path.join(project, 'out')
  const { stderr: log } = await run(
    path.join(project, 'node_modules', '.bin', 'nodevoy'),
    ['build', 'filter.ts', '--out', 'out', '--config', 'config.json', '--bundle-path', path.join(out, 'bundle.js')],
    project,
  )
  t.match(log, /is ready in out/, 'nodevoy build succeeded')
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  // The written envoy.yaml listens on :10000 with a placeholder upstream; run it on free ports here.
  const document = YAML.parse(fs.readFileSync(path.join(out, 'envoy.yaml'), 'utf8'))
  document.admin.address.socket_address.port_value = 0
  document.static_resources.listeners[0].address.socket_address = { address: '127.0.0.1', port_value: 0 }
  document.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value =
    upstream.port
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

t.test('a new user installs the tarball, builds basic-auth and runs it', async (t) => {
  const project = await newProject(t)
  const installed = path.join(project, 'node_modules', 'nodevoy')
  t.ok(fs.existsSync(path.join(installed, 'prebuilds', 'linux-x64', 'nodevoy.node')), 'libnodevoy prebuild installed')
  t.notOk(fs.existsSync(path.join(installed, 'build')), 'nothing was compiled on install')
  fs.copyFileSync(path.join(repoRoot, 'examples', 'basic-auth', 'filter.ts'), path.join(project, 'filter.ts'))
  const url = await buildAndRun(t, project, { username: 'alice', password: 'wonderland' })
  const denied = await request(url)
  t.equal(denied.statusCode, 401)
  t.equal(await denied.body.text(), 'no Authorization')
  const allowed = await request(url, { headers: { authorization: 'Basic ' + Buffer.from('alice:wonderland').toString('base64') } })
  t.equal(allowed.statusCode, 200, "the upstream's answer")
  await allowed.body.text()

  // Without a matching prebuild, build says which platform and what to do.
  fs.renameSync(path.join(installed, 'prebuilds'), path.join(installed, 'prebuilds.hidden'))
  const failed = await run(path.join(project, 'node_modules', '.bin', 'nodevoy'), ['build', 'filter.ts', '--out', 'out2'], project).then(
    () => '',
    (error: Error) => error.message,
  )
  t.match(failed, /nodevoy: no prebuilt libnodevoy for linux-x64 in .*prebuilds .*Reinstall nodevoy/, 'a clear error without a prebuild')
})

t.test('a new user installs the tarball and jose, builds the JWT example and runs it', async (t) => {
  const jose = JSON.parse(fs.readFileSync(path.join(repoRoot, 'node_modules', 'jose', 'package.json'), 'utf8')).version as string
  const project = await newProject(t, [`jose@${jose}`])
  fs.copyFileSync(path.join(repoRoot, 'examples', 'jwt', 'filter.ts'), path.join(project, 'filter.ts'))
  const { privateKey, publicKey } = await generateKeyPair('RS256')
  const jwksPath = path.join(project, 'jwks.json')
  fs.writeFileSync(jwksPath, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' }] }))
  const url = await buildAndRun(t, project, { jwksPath, issuer: 'https://issuer.test', audience: 'orders' })
  const sign = (claims: Record<string, unknown>, expiresIn: string) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer('https://issuer.test')
      .setAudience('orders')
      .setIssuedAt()
      .setExpirationTime(expiresIn)
      .sign(privateKey)
  const valid = await request(url, { headers: { authorization: `Bearer ${await sign({ sub: 'alice' }, '5m')}` } })
  t.equal(valid.statusCode, 200, 'a valid token is authorised')
  await valid.body.text()
  const { privateKey: other } = await generateKeyPair('RS256')
  const forged = await new SignJWT({ sub: 'mallory' })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer('https://issuer.test')
    .setAudience('orders')
    .setExpirationTime('5m')
    .sign(other)
  const bad = await request(url, { headers: { authorization: `Bearer ${forged}` } })
  t.equal(bad.statusCode, 401, 'a token signed by another key is rejected')
  t.match(String(bad.headers['www-authenticate']), /^Bearer realm=".*", error="invalid_token"/)
  await bad.body.text()
  const missing = await request(url)
  t.equal(missing.statusCode, 401, 'no token: 401')
  await missing.body.text()
})
