// Where the build puts the dev host and the modules (see host/Makefile). NODEVOY_OUT points the
// tests at another build directory (make -C host OUT=<dir>).
import fs from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { libnodeCachePrefix, libnodeDir as findLibnodeDir, libnodevoyPath } from '../../scripts/lib/paths.js'
import { runtimeInfo } from '../../scripts/lib/runtimes.js'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const outDir = process.env.NODEVOY_OUT ? path.resolve(process.env.NODEVOY_OUT) : path.join(repoRoot, 'out')
export const devHostBin = path.join(outDir, 'nodevoy-devhost')
/** The dev host executable linked with the callbacks of that Envoy release (see host/Makefile). */
export const devHostBinFor = (envoyVersion: string): string =>
  envoyVersion === '1.40' ? devHostBin : path.join(outDir, `nodevoy-devhost-${envoyVersion}`)
export const referenceModulesDir = path.join(outDir, 'modules')
export const testModulesDir = path.join(outDir, 'test-modules')
/** The runtime the tests run libnodevoy on: NODEVOY_RUNTIME, else the newest that runs here (scripts/lib/runtimes.ts). */
export const testRuntime = runtimeInfo()
/**
 * libnodevoy for that runtime. Node 18: as node-gyp-build finds it (a local build in build/Release,
 * else the prebuild); other runtimes: out/runtimes/<name>/ (scripts/build-module.sh --runtime).
 */
export const nodevoyModule: string = (() => {
  if (testRuntime.name !== 'node18') {
    try {
      return libnodevoyPath(testRuntime.name)
    } catch {
      return path.join(repoRoot, 'out', 'runtimes', testRuntime.name, 'nodevoy.node')  // tests fail saying it is missing
    }
  }
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
    // tests that need it fail saying so
    return testRuntime.name === 'node18' ? path.join(libnodeCachePrefix(), 'usr', 'lib', 'x86_64-linux-gnu') : '/usr/lib/x86_64-linux-gnu'
  }
})()
