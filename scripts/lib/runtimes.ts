// The Node runtimes libnodevoy can embed, by name. Everything that depends on the runtime's Node
// version derives from here: the bundle's esbuild target, the tsconfig preset for filters
// (presets/tsconfig.<name>.json, checked against this table by test/package/presets.test.ts), the
// @types/node range `nodevoy init` writes, and the libnode library the dev host loads.

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
  /** The embedding library: its soname and Debian 12 packages. */
  libnode: { soname: string; package: string; devPackage: string }
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
  },
}

/** The runtime today's libnodevoy embeds. */
export const DEFAULT_RUNTIME = 'node18'

/** A runtime by name (default: the one libnodevoy embeds), or an error listing the known names. */
export function runtimeInfo(name: string = DEFAULT_RUNTIME): RuntimeInfo {
  const info = RUNTIMES[name]
  if (!info) throw new Error(`unknown runtime "${name}"; known: ${Object.keys(RUNTIMES).join(', ')}`)
  return info
}

/** The tsconfig preset's content for a runtime (what presets/tsconfig.<name>.json holds). */
export function tsconfigPreset(info: RuntimeInfo): Record<string, unknown> {
  return {
    $schema: 'https://json.schemastore.org/tsconfig',
    display: `nodevoy filters on Node ${info.nodeVersion} (the runtime libnodevoy embeds)`,
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
