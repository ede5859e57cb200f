// nodevoy dev: a changed filter is rebuilt and swapped in under load without a failed request; a
// broken edit is reported and the last good build keeps serving.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { Agent, request } from 'undici'
import { dev } from '../../scripts/commands/dev.js'
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

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

t.test('a change is swapped in under running load with no failed request', async (t) => {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-dev-test-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const entry = path.join(dir, 'filter.ts')
  fs.writeFileSync(entry, filterSource('v1'))
  const lines: string[] = []
  const session = await dev(entry, { port: 0, concurrency: 2, upstream: `127.0.0.1:${upstream.port}`, log: (l) => lines.push(l) })
  t.teardown(() => session.stop())
  t.match(lines[0], /^nodevoy dev: http:\/\/127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+; watching \d+ files/)

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
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-dev-test-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const entry = path.join(dir, 'filter.ts')
  fs.writeFileSync(entry, filterSource('good'))
  const lines: string[] = []
  const session = await dev(entry, { port: 0, concurrency: 1, log: (l) => lines.push(l) })
  t.teardown(() => session.stop())
  fs.writeFileSync(entry, 'export default defineFilter({ name: \n')
  await until(() => lines.some((l) => l.includes('still serving the last good build')), 'the build error report')
  t.ok(lines.some((l) => /bundling .* failed/.test(l)), 'the error says what failed and where')
  const res = await request(session.url)
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-version'], 'good', 'the last good build still serves')
  await res.body.text()
  fs.writeFileSync(entry, filterSource('fixed'))
  await until(() => lines.some((l) => l.includes('rebuilt and swapped in')), 'the fixed build')
  const after = await request(session.url)
  t.equal(after.headers['x-version'], 'fixed')
  await after.body.text()
})
