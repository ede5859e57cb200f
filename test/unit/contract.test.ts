// The contract between the SDK and libnodevoy is declared once (sdk/internal/contract.ts); the C++
// side and the environment bootstrap are generated from it and committed. This fails when a
// committed generated file is stale (run `npm run gen`).
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import t from 'tap'
import { repoRoot } from '../harness/paths.js'

t.test('host/module/contract.gen.h and bootstrap.gen.h match sdk/internal/', (t) => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts', 'gen-contract.ts'), '--check'], {
    cwd: repoRoot,
    encoding: 'utf8',
  })
  t.equal(run.status, 0, run.stderr.trim() || 'the generated files are fresh')
  t.end()
})
