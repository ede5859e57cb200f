// nodevoy dev: a changed filter is rebuilt and swapped in under load without a failed request; a
// broken edit is reported and the last good build keeps serving; a broken start waits for a fix;
// edits made while it starts are not lost; YAML configs are watched; host names as upstreams; no
// temporary files are left behind.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { Agent, request } from 'undici'
import { dev, startDev } from '../../scripts/commands/dev.js'
import { testRuntime } from '../harness/paths.js'
import { scratchDir, writeSource } from '../harness/scratch.js'
import { startUpstream } from '../harness/upstream.js'

const filterSource = (version: string) => `import { defineFilter } from 'nodevoy'
export default defineFilter({
  name: 'versioned',
  create: () => ({
    onResponseHeaders(headers) {
      headers.set('x-version', '${version}')
    },
  }),
})
`

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

// A private temporary directory for the dev loop's files (os.tmpdir() follows TMPDIR), so the test
// can check nothing is left in it; other processes on the machine use /tmp too.
const privateTmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-dev-tests-'))
process.env.TMPDIR = privateTmp
t.teardown(() => fs.rmSync(privateTmp, { recursive: true, force: true }))
const leftovers = () => fs.readdirSync(privateTmp).filter((n) => n.startsWith('nodevoy-'))

const project = (t: Test) => scratchDir(t, 'dev')

async function header(url: string, name: string): Promise<string | undefined> {
  const res = await request(url)
  await res.body.text()
  const value = res.headers[name]
  return value === undefined ? undefined : String(value)
}

t.test('a change is swapped in under running load with no failed request', async (t) => {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const entry = path.join(project(t), 'filter.ts')
  fs.writeFileSync(entry, filterSource('v1'))
  const lines: string[] = []
  const session = await dev(entry, { port: 0, concurrency: 2, upstream: `127.0.0.1:${upstream.port}`, log: (l) => lines.push(l), onOutput: () => {} })
  t.teardown(() => session.stop())
  t.match(lines[0], /^nodevoy dev: http:\/\/127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+; watching \d+ files/)
  t.match(lines[0], `; on ${testRuntime.name} (Node ${testRuntime.nodeVersion})`, 'and names the runtime it runs the filter on')

  const agent = new Agent({ connections: 8 })
  t.teardown(() => agent.close())
  const seen: Record<string, number> = {}
  const failures: string[] = []
  let running = true
  const loops = Array.from({ length: 8 }, async () => {
    while (running) {
      try {
        const res = await request(session.url, { dispatcher: agent })
        await res.body.text()
        if (res.statusCode !== 200) failures.push(`status ${res.statusCode}`)
        const version = String(res.headers['x-version'])
        seen[version] = (seen[version] ?? 0) + 1
      } catch (error) {
        failures.push((error as Error).message)
      }
    }
  })
  await until(() => (seen.v1 ?? 0) >= 200, '200 responses from v1')
  fs.writeFileSync(entry, filterSource('v2'))
  await until(() => lines.some((l) => l.includes('rebuilt and swapped in')), 'the swap')
  await until(() => (seen.v2 ?? 0) >= 200, '200 responses from v2')
  running = false
  await Promise.all(loops)
  t.same(failures, [], 'no request failed across the swap')
  t.ok(seen.v1! >= 200 && seen.v2! >= 200, `served v1 ${seen.v1} times, then v2 ${seen.v2} times`)
  t.same(Object.keys(seen).sort(), ['v1', 'v2'], 'every response came from one version or the other')
})

t.test('a broken edit is reported; the last good build keeps serving', async (t) => {
  const entry = path.join(project(t), 'filter.ts')
  fs.writeFileSync(entry, filterSource('good'))
  const lines: string[] = []
  const session = await dev(entry, { port: 0, concurrency: 1, log: (l) => lines.push(l), onOutput: () => {} })
  t.teardown(() => session.stop())
  fs.writeFileSync(entry, 'export default defineFilter({ name: \n')
  await until(() => lines.some((l) => l.includes('still serving the last good build')), 'the build error report')
  t.ok(lines.some((l) => /bundling .* failed/.test(l)), 'the error says what failed and where')
  t.equal(await header(session.url, 'x-version'), 'good', 'the last good build still serves')
  fs.writeFileSync(entry, filterSource('fixed'))
  await until(() => lines.some((l) => l.includes('rebuilt and swapped in')), 'the fixed build')
  t.equal(await header(session.url, 'x-version'), 'fixed')
})

t.test('a syntax error at start waits for a fix instead of exiting', async (t) => {
  const entry = path.join(project(t), 'filter.ts')
  fs.writeFileSync(entry, 'export default defineFilter({ name: \n')
  const lines: string[] = []
  const session = startDev(entry, { port: 0, concurrency: 1, log: (l) => lines.push(l), onOutput: () => {} })
  t.teardown(() => session.stop())
  await until(() => lines.some((l) => l.includes('waiting for a fix')), 'the waiting message')
  t.match(lines.join('\n'), /bundling .*filter\.ts failed:\n.*filter\.ts:2:0: /)
  fs.writeFileSync(entry, filterSource('fixed'))
  await session.ready
  t.equal(await header(session.url, 'x-version'), 'fixed')
})

t.test('an edit made while the dev host starts is not lost', async (t) => {
  const entry = path.join(project(t), 'filter.ts')
  fs.writeFileSync(entry, filterSource('first'))
  let edited = false
  const session = startDev(entry, {
    port: 0,
    concurrency: 1,
    log: () => {},
    onOutput: () => {
      // The dev host's first output: it is starting with the first build.
      if (!edited) {
        edited = true
        fs.writeFileSync(entry, filterSource('second'))
      }
    },
  })
  t.teardown(() => session.stop())
  await session.ready
  t.ok(edited, 'the file changed while the dev host was starting')
  await until(async () => (await header(session.url, 'x-version')) === 'second', 'the edit to be served')
  t.pass('the edit made during start-up is served without another save')
})

t.test('a YAML config is read, watched, and a broken one keeps the last good config', async (t) => {
  const dir = project(t)
  const entry = writeSource(
    dir,
    'filter.ts',
    `import { defineFilter } from 'nodevoy'
import { z } from 'zod'
export default defineFilter({
  name: 'configured',
  config: z.object({ value: z.string(), ratio: z.number() }),
  create: (config) => ({ onResponseHeaders(h) { h.set('x-value', config.value + ' ' + config.ratio) } }),
})
`,
  )
  const config = path.join(dir, 'config.yaml')
  fs.writeFileSync(config, 'value: yes\nratio: 0.25\n')
  const lines: string[] = []
  const session = await dev(entry, { port: 0, concurrency: 1, config, log: (l) => lines.push(l), onOutput: () => {} })
  t.teardown(() => session.stop())
  t.equal(await header(session.url, 'x-value'), 'yes 0.25', 'YAML 1.2: yes is a string, 0.25 a number, and they arrive as such')
  fs.writeFileSync(config, 'value: [broken\n')
  await until(() => lines.some((l) => /config\.yaml is not valid YAML at line \d+, column \d+/.test(l)), 'the YAML error')
  t.equal(await header(session.url, 'x-value'), 'yes 0.25', 'the last good config keeps serving')
  fs.writeFileSync(config, 'value: no\nratio: "x"\n')
  await until(() => lines.some((l) => /invalid config for filter "configured": ratio: /.test(l)), 'the schema error')
  fs.writeFileSync(config, 'value: changed\nratio: 2\n')
  await until(async () => (await header(session.url, 'x-value')) === 'changed 2', 'the new config')
})

t.test('--upstream takes a host name; IPv6 is refused with the reason', async (t) => {
  const upstream = await startUpstream((_req, res) => {
    res.writeHead(200, { 'x-upstream': 'yes' })
    res.end('upstream\n')
  })
  t.teardown(() => upstream.close())
  const entry = path.join(project(t), 'filter.ts')
  fs.writeFileSync(entry, filterSource('named'))
  const lines: string[] = []
  const session = await dev(entry, { port: 0, concurrency: 1, upstream: `localhost:${upstream.port}`, watch: false, log: (l) => lines.push(l), onOutput: () => {} })
  t.teardown(() => session.stop())
  t.match(lines[0], new RegExp(`-> localhost:${upstream.port} \\(127\\.0\\.0\\.1\\)`))
  t.equal(await header(session.url, 'x-upstream'), 'yes', "the upstream's answer")
  await t.rejects(dev(entry, { port: 0, concurrency: 1, upstream: '[::1]:8080', log: () => {} }), {
    code: 'NODEVOY_ERR_INVALID_ARGUMENT',
    message: /connects to upstreams over IPv4 only/,
  })
  await t.rejects(dev(entry, { port: 0, concurrency: 1, upstream: 'no-such-host.invalid:80', log: () => {} }), {
    code: 'NODEVOY_ERR_INVALID_ARGUMENT',
    message: /cannot resolve no-such-host\.invalid/,
  })
})

t.test('the log level reaches the dev host', async (t) => {
  const entry = path.join(project(t), 'filter.ts')
  fs.writeFileSync(entry, filterSource('quiet'))
  let output = ''
  const session = await dev(entry, { port: 0, concurrency: 1, logLevel: 'warning', watch: false, log: () => {}, onOutput: (s) => (output += s) })
  await header(session.url, 'x-version')
  await session.stop()
  t.notMatch(output, /\]\[info\]\[/, 'no info lines at level warning')
  let verbose = ''
  const again = await dev(entry, { port: 0, concurrency: 1, logLevel: 'debug', watch: false, log: () => {}, onOutput: (s) => (verbose += s) })
  await again.stop()
  t.match(verbose, /\]\[debug\]\[/, 'debug lines at level debug')
})

t.test('stopping, and failed starts, leave no temporary files', async (t) => {
  const entry = path.join(project(t), 'filter.ts')
  fs.writeFileSync(entry, filterSource('x'))
  const session = await dev(entry, { port: 0, concurrency: 1, log: () => {}, onOutput: () => {} })
  t.ok(leftovers().length > 0, 'the running loop has its files')
  await session.stop()
  t.same(leftovers(), [], 'stop removed them')
  const needsConfig = path.join(path.dirname(entry), 'needs.ts')
  fs.writeFileSync(needsConfig, `import { defineFilter } from 'nodevoy'
import { z } from 'zod'
export default defineFilter({ name: 'needs', config: z.object({ key: z.string() }), create: () => ({}) })
`)
  await t.rejects(dev(needsConfig, { port: 0, concurrency: 1, watch: false, log: () => {} }), {
    code: 'NODEVOY_ERR_INVALID_CONFIG',
    message: /key: .*No config was given.*pass its config with --config/,
  })
  t.same(leftovers(), [], 'a start refused for its config left nothing')
  // An address this machine does not have (TEST-NET-1): the dev host cannot bind its listener.
  await t.rejects(dev(entry, { port: 0, host: '192.0.2.1', concurrency: 1, watch: false, log: () => {}, onOutput: () => {} }), {
    code: 'NODEVOY_ERR_DEVHOST_FAILED',
    message: /the dev host did not start/,
  })
  t.same(leftovers(), [], 'a dev host that could not start left nothing')
  const stopEarly = startDev(entry, { port: 0, concurrency: 1, log: () => {}, onOutput: () => {} })
  await stopEarly.stop()
  await t.rejects(stopEarly.ready, { code: 'NODEVOY_ERR_DEVHOST_FAILED', message: /stopped before it served/ })
  t.same(leftovers(), [], 'stopping during start left nothing')
})
