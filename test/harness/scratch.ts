// Scratch directories for tests that write filters: inside the repository (test/cli/.tmp-*), so
// the filters resolve `nodevoy` and npm packages (zod, valibot, ...) as a project's would.
import fs from 'node:fs'
import path from 'node:path'
import type { Test } from 'tap'
import { repoRoot } from './paths.js'

/** A new directory, removed when the test ends. */
export function scratchDir(t: Test, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(repoRoot, 'test', 'cli', `.tmp-${prefix}-`))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Writes `source` to `dir/name`; returns the file's path. */
export function writeSource(dir: string, name: string, source: string): string {
  const file = path.join(dir, name)
  fs.writeFileSync(file, source)
  return file
}
