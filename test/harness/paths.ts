// Where the build puts the dev host and the modules (see host/Makefile).
import { fileURLToPath } from 'node:url'
import path from 'node:path'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const outDir = path.join(repoRoot, 'out')
export const devHostBin = path.join(outDir, 'nodevoy-devhost')
export const referenceModulesDir = path.join(outDir, 'modules')
export const testModulesDir = path.join(outDir, 'test-modules')
