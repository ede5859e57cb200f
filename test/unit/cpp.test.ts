// Runs the C++ unit tests (host/tests/*_test.cc, googletest) that `make -C host` builds into out/unit.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { outDir, repoRoot } from '../harness/paths.js'

const unitDir = path.join(outDir, 'unit')
const sources = fs.readdirSync(path.join(repoRoot, 'host', 'tests')).filter((f) => f.endsWith('_test.cc'))

for (const source of sources) {
  const name = source.replace(/\.cc$/, '')
  t.test(name, (t) => {
    const bin = path.join(unitDir, name)
    if (!fs.existsSync(bin)) {
      t.fail(`${bin} is not built; run npm run build:native`)
      return t.end()
    }
    const run = spawnSync(bin, [], { encoding: 'utf8' })
    const summary = /\[\s+PASSED\s+\] (\d+) tests?/.exec(run.stdout)
    t.equal(run.status, 0, `${name} passed${summary ? ` (${summary[1]} tests)` : ''}`)
    if (run.status !== 0) t.comment(run.stdout + run.stderr)
    t.end()
  })
}
