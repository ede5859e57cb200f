// Where the build puts the dev host and the modules (see host/Makefile). NODEVOY_OUT points the
// tests at another build directory (make -C host OUT=<dir>).
import fs from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { libnodeCachePrefix, libnodeDir as findLibnodeDir } from '../../scripts/lib/paths.js'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const outDir = process.env.NODEVOY_OUT ? path.resolve(process.env.NODEVOY_OUT) : path.join(repoRoot, 'out')
export const devHostBin = path.join(outDir, 'nodevoy-devhost')
/** The dev host executable linked with the callbacks of that Envoy release (see host/Makefile). */
export const devHostBinFor = (envoyVersion: string): string =>
  envoyVersion === '1.40' ? devHostBin : path.join(outDir, `nodevoy-devhost-${envoyVersion}`)
export const referenceModulesDir = path.join(outDir, 'modules')
export const testModulesDir = path.join(outDir, 'test-modules')
/** libnodevoy as node-gyp-build finds it: a local build (build/Release), else the prebuild for this platform. */
export const nodevoyModule: string = (() => {
  const local = path.join(repoRoot, 'build', 'Release', 'nodevoy.node')
  if (fs.existsSync(local)) return local
  try {
    return (createRequire(import.meta.url)('node-gyp-build') as { path(dir: string): string }).path(repoRoot)
  } catch {
    return local
  }
})()
/** Where libnode is: the system's, or the per-user cache scripts/setup-libnode.sh extracts it into. */
export const libnodeDir: string = (() => {
  try {
    return findLibnodeDir()
  } catch {
    return path.join(libnodeCachePrefix(), 'usr', 'lib', 'x86_64-linux-gnu')  // tests that need it fail saying so
  }
})()
