// Bundle size of a filter and what dominates it (esbuild's metafile, by package). Usage:
//   tsx bench/bundle-size.ts [entry=examples/basic-auth/filter.ts]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { build } from 'esbuild'
import { bundleOptions } from '../scripts/bundle.js'

const entry = process.argv[2] ?? 'examples/basic-auth/filter.ts'
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-bundle-size-'))
try {
  const outfile = path.join(dir, 'bundle.js')
  const result = await build(bundleOptions(entry, outfile))
  const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined) ?? Object.values(result.metafile.outputs)[0]!
  const byPackage = new Map<string, number>()
  for (const [file, info] of Object.entries(output.inputs)) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)
    const owner = match ? match[1]! : file.startsWith('sdk/') ? 'nodevoy SDK' : file
    byPackage.set(owner, (byPackage.get(owner) ?? 0) + info.bytesInOutput)
  }
  const total = fs.statSync(outfile).size
  console.log(`${entry}: bundle ${(total / 1024).toFixed(0)} KiB`)
  for (const [owner, bytes] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 8)) {
    console.log(`  ${owner.padEnd(40)} ${(bytes / 1024).toFixed(1).padStart(7)} KiB  ${((bytes / total) * 100).toFixed(0)} %`)
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
