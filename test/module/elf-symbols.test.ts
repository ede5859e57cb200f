// The ELF reader behind the symbol-isolation check (host/module/elf_symbols.cc), tested alone by its
// C++ unit test (test/native/unit/elf_symbols_test.cc, built by host/Makefile), which prints TAP.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { outDir } from '../harness/paths.js'

const dir = path.join(outDir, 'test-native')
const binary = path.join(dir, 'elf_symbols_test')

t.test('the C++ unit test of the ELF reader passes', async (t) => {
  t.ok(fs.existsSync(binary), `${binary} is built (npm run build:native)`)
  const run = spawnSync(binary, [path.join(dir, 'libelf_fixture_gnu.so'), path.join(dir, 'libelf_fixture_sysv.so')], {
    encoding: 'utf8',
  })
  const lines = run.stdout.split('\n')
  const results = lines.filter((line) => /^(not )?ok \d+ - /.test(line))
  t.ok(results.length > 40, `${results.length} checks ran`)
  for (const line of results) t.ok(line.startsWith('ok '), line.replace(/^(not )?ok \d+ - /, ''))
  for (const line of lines.filter((l) => l.startsWith('# '))) t.comment(line.slice(2))
  t.equal(run.status, 0, `exit status (stderr: ${run.stderr.trim() || 'empty'})`)
})
