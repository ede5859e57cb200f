// Writes presets/tsconfig.<runtime>.json for every runtime in scripts/lib/runtimes.ts, and
// presets/tsconfig.json for the default one: `npx tsx scripts/write-presets.ts`.
// test/package/presets.test.ts fails when the committed files differ from what this writes.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { presetFiles } from './lib/runtimes.js'

const presets = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'presets')
for (const [name, content] of Object.entries(presetFiles())) fs.writeFileSync(path.join(presets, name), content)
