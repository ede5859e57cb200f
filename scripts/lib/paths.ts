// Where the nodevoy package keeps its native parts, in a development checkout and when installed.
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { toolError } from './errors.js'
import { libnodeSearchDirsFor, runnableHere, runtimeInfo, type RuntimeInfo } from './runtimes.js'

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

/**
 * libnodevoy (the Envoy module) built for a runtime. Node 18: as node-gyp-build finds it (a local
 * build in build/Release, else prebuilds/linux-x64/nodevoy.node). Other runtimes: a local build in
 * out/runtimes/<name>/ (scripts/build-module.sh --runtime), else prebuilds/linux-x64/<name>/.
 */
export function libnodevoyPath(runtime: string = runtimeInfo().name): string {
  requireSupportedPlatform()
  if (runtime !== 'node18') {
    const candidates = [
      path.join(packageRoot, 'out', 'runtimes', runtime, 'nodevoy.node'),
      path.join(packageRoot, 'prebuilds', platform, runtime, 'nodevoy.node'),
    ]
    const found = candidates.find((file) => fs.existsSync(file))
    if (found) return found
    throw toolError(
      'NODEVOY_ERR_NATIVE_UNAVAILABLE',
      `no libnodevoy for ${runtime} (looked for ${candidates.join(' and ')}). Reinstall nodevoy from the npm registry; ` +
        `in a checkout of the repository, build it with \`bash scripts/build-module.sh --runtime ${runtime}\`.`,
    )
  }
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
 * Where `nodevoy setup` (scripts/setup-libnode.sh) extracts Node 18's libnode when the system has
 * none: a per-user cache shared by every project (NODEVOY_LIBNODE_PREFIX overrides it).
 */
export function libnodeCachePrefix(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NODEVOY_LIBNODE_PREFIX) return env.NODEVOY_LIBNODE_PREFIX
  const cache = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache')
  return path.join(cache, 'nodevoy', 'libnode108')
}

/** Directories to search for a runtime's libnode, best first. */
export function libnodeSearchDirs(info: RuntimeInfo = runtimeInfo()): string[] {
  return libnodeSearchDirsFor(info)
}

/** The directory holding a runtime's libnode, or a clear error saying how to get it. */
export function libnodeDir(info: RuntimeInfo = runtimeInfo()): string {
  const { nodeVersion, libnode, name } = info
  const { soname, package: pkg } = libnode
  if (name !== 'node18' && !runnableHere(info)) {
    throw toolError(
      'NODEVOY_ERR_NATIVE_UNAVAILABLE',
      `${name} (Node ${nodeVersion}, ${soname}) does not run on this machine: it needs glibc >= ${info.glibc} and ` +
        `${pkg} installed (${info.deploy.distribution} ships it). Run this where it is installed (the image ` +
        `\`nodevoy build --runtime ${name}\` writes a Dockerfile for; or, as root in a nodevoy checkout, ` +
        `\`bash scripts/runtime-root.sh run ${name} <command>\`), or use a runtime that runs here (unset NODEVOY_RUNTIME / --runtime).`,
    )
  }
  for (const dir of libnodeSearchDirs(info)) {
    if (fs.existsSync(path.join(dir, soname))) return dir
  }
  throw toolError(
    'NODEVOY_ERR_NATIVE_UNAVAILABLE',
    `${soname} (the Node ${nodeVersion} runtime libnodevoy embeds) is not installed. Run \`npx nodevoy setup\` once ` +
      `(Debian 12: installs ${pkg} with apt, or extracts it into ${libnodeCachePrefix()} when the system's nodejs ` +
      'package conflicts), or set NODEVOY_LIBNODE_DIR to the directory that holds it.',
  )
}
