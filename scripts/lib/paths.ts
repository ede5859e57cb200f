// Where the nodevoy package keeps its native parts, in a development checkout and when installed.
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { toolError } from './errors.js'
import { runtimeInfo } from './runtimes.js'

/** The package root: the directory holding nodevoy's package.json (source or compiled layout). */
export const packageRoot: string = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = path.join(dir, 'package.json')
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'nodevoy') return dir
    const parent = path.dirname(dir)
    if (parent === dir) throw new Error('nodevoy: cannot find its own package.json')
    dir = parent
  }
})()

const platform = `${process.platform}-${process.arch}`

function requireSupportedPlatform(): void {
  if (platform !== 'linux-x64') {
    throw toolError(
      'NODEVOY_ERR_NATIVE_UNAVAILABLE',
      `nodevoy's native parts are built for linux-x64 (glibc); this is ${platform}. ` +
        'Run nodevoy on Linux x64, e.g. in the Debian 12 dev container the package ships ' +
        '(node_modules/nodevoy/container/README.md).',
    )
  }
}

/** libnodevoy (the Envoy module) as node-gyp-build finds it: a local build, else the prebuild. */
export function libnodevoyPath(): string {
  requireSupportedPlatform()
  try {
    const nodeGypBuild = createRequire(import.meta.url)('node-gyp-build') as { path(dir: string): string }
    return nodeGypBuild.path(packageRoot)
  } catch (error) {
    throw toolError(
      'NODEVOY_ERR_NATIVE_UNAVAILABLE',
      `no prebuilt libnodevoy for ${platform} in ${path.join(packageRoot, 'prebuilds')} ` +
        `(${(error as Error).message.split('\n')[0]}). Reinstall nodevoy from the npm registry; to build it from ` +
        'source, use a checkout of the repository: `npm ci && npm run build:native` (Debian 12; see CONTRIBUTING.md).',
    )
  }
}

/** The dev host binary: a local build (out/), else the prebuild. */
export function devHostPath(): string {
  requireSupportedPlatform()
  for (const candidate of [
    path.join(packageRoot, 'out', 'nodevoy-devhost'),
    path.join(packageRoot, 'prebuilds', platform, 'nodevoy-devhost'),
  ]) {
    if (fs.existsSync(candidate)) return candidate
  }
  throw toolError(
    'NODEVOY_ERR_NATIVE_UNAVAILABLE',
    `no nodevoy dev host for ${platform} (looked in out/ and prebuilds/${platform}/ under ${packageRoot}). ` +
      'Reinstall nodevoy, or build it in a checkout of the repository with `npm ci && npm run build:native`.',
  )
}

/**
 * Where `nodevoy setup` (scripts/setup-libnode.sh) extracts libnode when the system has none: a
 * per-user cache shared by every project (NODEVOY_LIBNODE_PREFIX overrides it).
 */
export function libnodeCachePrefix(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NODEVOY_LIBNODE_PREFIX) return env.NODEVOY_LIBNODE_PREFIX
  const cache = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache')
  return path.join(cache, 'nodevoy', runtimeInfo().libnode.package)
}

/** Directories to search for libnode (the embedded Node's library), best first. */
export function libnodeSearchDirs(): string[] {
  const dirs = [
    process.env.NODEVOY_LIBNODE_DIR,
    path.join(libnodeCachePrefix(), 'usr', 'lib', 'x86_64-linux-gnu'),
    '/usr/lib/x86_64-linux-gnu',
  ]
  return dirs.filter((d): d is string => !!d)
}

/** The directory holding libnode, or a clear error saying how to get it. */
export function libnodeDir(): string {
  const { nodeVersion, libnode } = runtimeInfo()
  const { soname, package: pkg } = libnode
  for (const dir of libnodeSearchDirs()) {
    if (fs.existsSync(path.join(dir, soname))) return dir
  }
  throw toolError(
    'NODEVOY_ERR_NATIVE_UNAVAILABLE',
    `${soname} (the Node ${nodeVersion} runtime libnodevoy embeds) is not installed. Run \`npx nodevoy setup\` once ` +
      `(Debian 12: installs ${pkg} with apt, or extracts it into ${libnodeCachePrefix()} when the system's nodejs ` +
      'package conflicts), or set NODEVOY_LIBNODE_DIR to the directory that holds it.',
  )
}
