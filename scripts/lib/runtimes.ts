// The Node runtimes libnodevoy can embed, by name. Everything that depends on the runtime's Node
// version derives from here: the bundle's esbuild target, the tsconfig preset for filters
// (presets/tsconfig.<name>.json, checked against this table by test/package/presets.test.ts), the
// @types/node range `nodevoy init` writes, and the libnode library the dev host loads.

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/** One embeddable Node runtime. */
export interface RuntimeInfo {
  /** Its name, e.g. `node18`; the preset is `nodevoy/tsconfig.<name>.json`. */
  name: string
  /** Node's version, as users read it, e.g. `18.20`. */
  nodeVersion: string
  /** esbuild's `target` for bundles. */
  esbuildTarget: string
  /** TypeScript's `target` and `lib`: the ECMAScript the runtime's V8 implements completely. */
  tsTarget: string
  tsLib: string[]
  /** The @types/node range matching the runtime's APIs. */
  typesNode: string
  /** The embedding library: its soname and the Debian packages that ship it and its headers. */
  libnode: { soname: string; package: string; devPackage: string }
  /** The oldest glibc its distribution's libnode runs on (Debian 12 has 2.36). */
  glibc: string
  /** The ICU major version its libnode links (ICU suffixes its symbol names with it). */
  icu: number
  /** Where it is deployed: the base image `nodevoy build` writes the Dockerfile on, and what that is. */
  deploy: { image: string; distribution: string }
  /** Upstream Node's end of life for this major (nodejs.org release schedule). */
  upstreamEndOfLife: string
  /** Who fixes its security bugs once upstream stops, in the image above. */
  securityFixes: string
  /** Where nodevoy's own tests run it (scripts/runtime-root.sh), and how well. */
  testedIn: string
}

export const RUNTIMES: Record<string, RuntimeInfo> = {
  node18: {
    name: 'node18',
    nodeVersion: '18.20',
    esbuildTarget: 'node18.20',
    // V8 10.2: all of ES2022; of ES2023 only findLast (toSorted, toReversed, with... are missing).
    tsTarget: 'ES2022',
    tsLib: ['ES2022'],
    typesNode: '^18.19.0',
    libnode: { soname: 'libnode.so.108', package: 'libnode108', devPackage: 'libnode-dev' },
    glibc: '2.36',
    icu: 72,
    deploy: { image: 'debian:12-slim', distribution: 'Debian 12 bookworm' },
    upstreamEndOfLife: '2025-04-30',
    securityFixes: "Debian 12's security team only (bookworm's nodejs); upstream Node 18 is past its end of life",
    testedIn: 'CI: every suite on the Debian 12 host',
  },
  node20: {
    name: 'node20',
    nodeVersion: '20.19',
    esbuildTarget: 'node20.19',
    // V8 11.3: all of ES2023.
    tsTarget: 'ES2023',
    tsLib: ['ES2023'],
    typesNode: '^20.19.0',
    libnode: { soname: 'libnode.so.115', package: 'libnode115', devPackage: 'libnode-dev' },
    glibc: '2.38',
    icu: 76,
    deploy: { image: 'debian:13-slim', distribution: 'Debian 13 trixie' },
    upstreamEndOfLife: '2026-04-30',
    securityFixes: "Debian 13's security team only (trixie's nodejs); upstream Node 20 is past its end of life",
    testedIn: 'CI: load + symbol-isolation + basic-auth smoke in a debootstrapped Debian 13 root',
  },
  node22: {
    name: 'node22',
    nodeVersion: '22.22',
    esbuildTarget: 'node22.22',
    // V8 12.4: all of ES2024 (Object.groupBy, Promise.withResolvers, resizable ArrayBuffers...).
    tsTarget: 'ES2024',
    tsLib: ['ES2024'],
    typesNode: '^22.19.0',
    libnode: { soname: 'libnode.so.127', package: 'libnode127', devPackage: 'libnode-dev' },
    glibc: '2.38',
    icu: 78,
    deploy: { image: 'ubuntu:26.04', distribution: 'Ubuntu 26.04 LTS' },
    upstreamEndOfLife: '2027-04-30',
    securityFixes: "upstream Node 22 (maintenance LTS) until 2027-04-30, then Ubuntu 26.04's updates of its libnode127 package",
    testedIn: "CI: load + symbol-isolation + basic-auth smoke with Debian sid's libnode127 in a debootstrapped sid root (Ubuntu's archive is not reachable from nodevoy's CI)",
  },
  node24: {
    name: 'node24',
    nodeVersion: '24.22',
    esbuildTarget: 'node24.22',
    // V8 13.6: all of ES2024; ES2025's Set methods and iterator helpers too (TypeScript's ES2025 lib
    // is not in every TypeScript 5.x, so the preset stays at ES2024).
    tsTarget: 'ES2024',
    tsLib: ['ES2024'],
    typesNode: '^24.0.0',
    libnode: { soname: 'libnode.so.137', package: 'libnode137', devPackage: 'libnode-dev' },
    glibc: '2.43',
    icu: 78,
    deploy: { image: 'debian:forky-slim', distribution: 'Debian 14 forky (testing)' },
    upstreamEndOfLife: '2028-04-30',
    securityFixes:
      'upstream Node 24 (LTS) until 2028-04-30, reaching forky through testing migrations: Debian testing gets no security team updates',
    testedIn: 'CI: every suite in a debootstrapped Debian sid root',
  },
}

/** The newest LTS nodevoy supports: what `nodevoy build` targets where nothing else is said. */
export const NEWEST_RUNTIME = 'node24'

/**
 * The runtime the published presets and docs call the default: Node 18, the one Debian 12 (nodevoy's
 * own machines, the dev container) runs. Which runtime a command uses is activeRuntime()'s answer.
 */
export const DEFAULT_RUNTIME = 'node18'

/** Runtime names, oldest first. */
export const RUNTIME_NAMES: string[] = Object.keys(RUNTIMES)

/** A runtime by name (default: the one libnodevoy embeds), or an error listing the known names. */
export function runtimeInfo(name: string = activeRuntime()): RuntimeInfo {
  const info = RUNTIMES[name]
  if (!info) throw new Error(`unknown runtime "${name}"; known: ${Object.keys(RUNTIMES).join(', ')}`)
  return info
}

/** This machine's glibc version ("2.36"), or undefined where there is none (musl, not Linux). */
export function glibcVersion(): string | undefined {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header
  return header?.glibcVersionRuntime
}

function versionAtLeast(have: string, want: string): boolean {
  const [a, b] = [have.split('.').map(Number), want.split('.').map(Number)]
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0)
  }
  return true
}

/**
 * Directories that may hold a runtime's libnode, best first: NODEVOY_LIBNODE_DIR, the per-user cache
 * `nodevoy setup` extracts Node 18's into, /opt/nodevoy/<package> (where scripts/runtime-root.sh puts
 * a libnode its distribution cannot install beside another), the system's.
 */
export function libnodeSearchDirsFor(info: RuntimeInfo, env: NodeJS.ProcessEnv = process.env): string[] {
  const cache = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache')
  const dirs = [
    env.NODEVOY_LIBNODE_DIR,
    info.name === 'node18' ? path.join(env.NODEVOY_LIBNODE_PREFIX || path.join(cache, 'nodevoy', info.libnode.package), 'usr', 'lib', 'x86_64-linux-gnu') : undefined,
    path.join('/opt/nodevoy', info.libnode.package, 'usr', 'lib', 'x86_64-linux-gnu'),
    '/usr/lib/x86_64-linux-gnu',
  ]
  return dirs.filter((d): d is string => !!d)
}

/** Whether a runtime's libnode can run on this machine (its glibc is new enough, its library is here). */
export function runnableHere(info: RuntimeInfo, env: NodeJS.ProcessEnv = process.env): boolean {
  const glibc = glibcVersion()
  if (!glibc || !versionAtLeast(glibc, info.glibc)) return false
  return libnodeSearchDirsFor(info, env).some((dir) => fs.existsSync(path.join(dir, info.libnode.soname)))
}

/**
 * The runtime a command runs filters on when none is named: NODEVOY_RUNTIME when set (the runtime
 * roots set it), else the newest runtime whose libnode runs on this machine (Node 18 on Debian 12),
 * else Node 18 (whose setup then says how to get it). `nodevoy build`, `nodevoy dev` and
 * nodevoy/testing all use it, so what is tested is what is deployed unless --runtime says otherwise.
 */
export function activeRuntime(env: NodeJS.ProcessEnv = process.env): string {
  const requested = env.NODEVOY_RUNTIME
  if (requested) {
    if (!RUNTIMES[requested]) {
      throw new Error(`NODEVOY_RUNTIME="${requested}" is not a runtime nodevoy knows; use one of ${RUNTIME_NAMES.join(', ')}`)
    }
    return requested
  }
  const runnable = RUNTIME_NAMES.filter((name) => runnableHere(RUNTIMES[name]!, env))
  return runnable.at(-1) ?? DEFAULT_RUNTIME
}

/** The tsconfig preset's content for a runtime (what presets/tsconfig.<name>.json holds). */
export function tsconfigPreset(info: RuntimeInfo): Record<string, unknown> {
  return {
    $schema: 'https://json.schemastore.org/tsconfig',
    display: `nodevoy filters on Node ${info.nodeVersion} (libnodevoy's ${info.name} runtime)`,
    compilerOptions: {
      // Type-check against what the embedded runtime has: its ECMAScript level and its Node APIs
      // (install @types/node in the range below); nothing of the DOM.
      target: info.tsTarget,
      lib: info.tsLib,
      types: ['node'],
      // nodevoy bundles with esbuild: TypeScript only checks, never emits.
      module: 'ESNext',
      moduleResolution: 'Bundler',
      moduleDetection: 'force',
      allowImportingTsExtensions: true,
      resolveJsonModule: true,
      isolatedModules: true,
      esModuleInterop: true,
      noEmit: true,
      strict: true,
      skipLibCheck: true,
    },
  }
}

/** The files of presets/: tsconfig.<name>.json per runtime, and tsconfig.json for the default. */
export function presetFiles(): Record<string, string> {
  const files: Record<string, string> = {}
  for (const info of Object.values(RUNTIMES)) files[`tsconfig.${info.name}.json`] = JSON.stringify(tsconfigPreset(info), null, 2) + '\n'
  files['tsconfig.json'] =
    JSON.stringify(
      {
        $schema: 'https://json.schemastore.org/tsconfig',
        display: `nodevoy filters on the runtime libnodevoy embeds (${DEFAULT_RUNTIME})`,
        extends: `./tsconfig.${DEFAULT_RUNTIME}.json`,
      },
      null,
      2,
    ) + '\n'
  return files
}
