// The API docs build from TSDoc, and every public export is documented (TypeDoc's notDocumented
// validation, warnings as errors, as `npm run docs` runs it).
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { repoRoot } from '../harness/paths.js'

t.test('npm run docs: API pages for the SDK and nodevoy/testing, no undocumented export', async (t) => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-docs-'))
  t.teardown(() => fs.rmSync(out, { recursive: true, force: true }))
  const script = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).scripts.docs as string
  const args = script.replace(/^typedoc /, '').replace('--out docs/api', `--out ${out}`).split(' ')
  const result = await new Promise<{ code: number; output: string }>((resolve) =>
    execFile(path.join(repoRoot, 'node_modules/.bin/typedoc'), args, { cwd: repoRoot }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
    ),
  )
  t.equal(result.code, 0, result.output)
  t.notMatch(result.output, /does not have any documentation/)
  const pages = fs.readdirSync(out, { recursive: true }).map(String)
  for (const page of ['defineFilter.html', 'RequestHeaderMap.html', 'Callbacks.html', 'StreamGoneError.html', 'startFilter.html', 'testFilter.html', 'FakeClock.html']) {
    t.ok(pages.some((p) => p.endsWith(page)), `${page} generated`)
  }
})
