// The published package, as a new user meets it: `npm pack`, install the tarball in an empty project
// with PREBUILDS_ONLY=1 (no compiler involved), `nodevoy build` an example there, and run the output
// on the dev host that ships in the package.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { request } from 'undici'
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

/** Packs nodevoy once per test process (building the prebuilds first if they are missing). */
async function packOnce(dir: string): Promise<string> {
  if (tarball) return tarball
  const prebuilds = path.join(repoRoot, 'prebuilds', 'linux-x64')
  if (!fs.existsSync(path.join(prebuilds, 'nodevoy.node')) || !fs.existsSync(path.join(prebuilds, 'nodevoy-devhost'))) {
    await run('bash', ['scripts/prebuild.sh'], repoRoot)
  }
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], repoRoot)
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string }[]
  tarball = path.join(dir, packed!.filename)
  return tarball
}

/** An empty project with the packed nodevoy (and extra packages) installed from the tarball. */
async function newProject(t: Test, extra: string[] = []): Promise<string> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-user-'))
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }))
  const pack = await packOnce(work)
  const project = path.join(work, 'project')
  fs.mkdirSync(project)
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'my-filters', private: true, type: 'module' }))
  await run('npm', ['install', '--no-audit', '--no-fund', pack, ...extra], project, { ...process.env, PREBUILDS_ONLY: '1' })
  return project
}
t.test('a new user installs the tarball, builds basic-auth and runs it', async (t) => {
  const project = await newProject(t)
  const installed = path.join(project, 'node_modules', 'nodevoy')
  t.ok(fs.existsSync(path.join(installed, 'prebuilds', 'linux-x64', 'nodevoy.node')), 'libnodevoy prebuild installed')
  t.notOk(fs.existsSync(path.join(installed, 'build')), 'nothing was compiled on install')
  fs.copyFileSync(path.join(repoRoot, 'examples', 'basic-auth', 'filter.ts'), path.join(project, 'filter.ts'))
  fs.writeFileSync(path.join(project, 'config.json'), JSON.stringify({ username: 'alice', password: 'wonderland' }))
  const out = path.join(project, 'out')
  const { stderr: log } = await run(
    path.join(project, 'node_modules', '.bin', 'nodevoy'),
    ['build', 'filter.ts', '--out', 'out', '--config', 'config.json', '--bundle-path', path.join(out, 'bundle.js')],
    project,
  )
  t.match(log, /filter "basic-auth" is ready in out/)

  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const config = YAML.parse(fs.readFileSync(path.join(out, 'envoy.yaml'), 'utf8'))
  config.admin.address.socket_address.port_value = 0
  config.static_resources.listeners[0].address.socket_address = { address: '127.0.0.1', port_value: 0 }
  config.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value = upstream.port
  fs.writeFileSync(path.join(out, 'local.yaml'), YAML.stringify(config))
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
  const url = `http://127.0.0.1:${await listenerPort(admin)}`
  const denied = await request(url)
  t.equal(denied.statusCode, 401)
  t.equal(await denied.body.text(), 'no Authorization')
  const allowed = await request(url, { headers: { authorization: 'Basic ' + Buffer.from('alice:wonderland').toString('base64') } })
  t.equal(allowed.statusCode, 200, "the upstream's answer")
  await allowed.body.text()
})
