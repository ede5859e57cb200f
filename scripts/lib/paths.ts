// Where the nodevoy package keeps its native parts, in a development checkout and when installed.
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CliError } from './errors.js'

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
    throw new CliError(
      `nodevoy's native parts are built for linux-x64 (glibc); this is ${platform}. ` +
        'Run nodevoy on Linux x64, e.g. in a Debian 12 container.',
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
    throw new CliError(
      `no prebuilt libnodevoy for ${platform} in ${path.join(packageRoot, 'prebuilds')} ` +
        `(${(error as Error).message.split('\n')[0]}). Reinstall nodevoy from the npm registry, or build it from ` +
        'source in the package directory with `npm run build:native` (Debian 12 with g++ and make).',
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
  throw new CliError(
    `no nodevoy dev host for ${platform} (looked in out/ and prebuilds/${platform}/ under ${packageRoot}). ` +
      'Reinstall nodevoy, or build it with `npm run build:native` in the package directory.',
  )
}

/** Directories to search for libnode.so.108 (Node 18's embedding library), best first. */
export function libnodeSearchDirs(): string[] {
  const dirs = [
    process.env.NODEVOY_LIBNODE_DIR,
    path.join(packageRoot, '.deps', 'libnode', 'usr', 'lib', 'x86_64-linux-gnu'),
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'nodevoy', 'libnode', 'usr', 'lib', 'x86_64-linux-gnu'),
    '/usr/lib/x86_64-linux-gnu',
  ]
  return dirs.filter((d): d is string => !!d)
}

/** The directory holding libnode.so.108, or a clear error saying how to get it. */
export function libnodeDir(): string {
  for (const dir of libnodeSearchDirs()) {
    if (fs.existsSync(path.join(dir, 'libnode.so.108'))) return dir
  }
  throw new CliError(
    'libnode.so.108 (the Node 18 runtime libnodevoy embeds) is not installed. Run `npx nodevoy setup` ' +
      '(Debian 12: installs it with apt, or into ~/.cache/nodevoy when the distribution\'s nodejs conflicts), ' +
      'or set NODEVOY_LIBNODE_DIR to the directory that holds it.',
  )
}
