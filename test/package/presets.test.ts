// The tsconfig presets in presets/ are what scripts/lib/runtimes.ts derives for each runtime, and the
// package exports each of them (the newcomer test in pack.test.ts type-checks a project with one).
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { embeddedNodeTarget } from '../../scripts/bundle.js'
import { DEFAULT_RUNTIME, presetFiles, RUNTIMES, runtimeInfo } from '../../scripts/lib/runtimes.js'
import { repoRoot } from '../harness/paths.js'

t.test('presets/ holds exactly what scripts/write-presets.ts writes', async (t) => {
  const expected = presetFiles()
  t.same(fs.readdirSync(path.join(repoRoot, 'presets')).sort(), Object.keys(expected).sort())
  for (const [name, content] of Object.entries(expected)) {
    t.equal(fs.readFileSync(path.join(repoRoot, 'presets', name), 'utf8'), content, `${name} is current (npx tsx scripts/write-presets.ts)`)
  }
})

t.test('every runtime has a preset export; the default follows the embedded runtime', async (t) => {
  const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'))
  for (const name of Object.keys(RUNTIMES)) t.equal(manifest.exports[`./tsconfig.${name}.json`], `./presets/tsconfig.${name}.json`)
  t.equal(manifest.exports['./tsconfig.json'], './presets/tsconfig.json')
  const preset = JSON.parse(fs.readFileSync(path.join(repoRoot, 'presets', 'tsconfig.json'), 'utf8'))
  t.equal(preset.extends, `./tsconfig.${DEFAULT_RUNTIME}.json`)
  t.equal(embeddedNodeTarget(), runtimeInfo().esbuildTarget, 'bundles target the runtime in use')
  for (const name of Object.keys(RUNTIMES)) t.equal(embeddedNodeTarget(name), RUNTIMES[name]!.esbuildTarget, `bundles for ${name} target it`)
  const node18 = JSON.parse(fs.readFileSync(path.join(repoRoot, 'presets', 'tsconfig.node18.json'), 'utf8')).compilerOptions
  t.same([node18.target, node18.lib, node18.types], ['ES2022', ['ES2022'], ['node']], 'Node 18.20: ES2022, Node types, no DOM')
  t.throws(() => runtimeInfo('node99'), /unknown runtime "node99"; known: node18/)
})
