// Bundles a filter entry and its dependencies (the nodevoy SDK included) into one CommonJS file for
// the Node runtime embedded in libnodevoy, and finds the Node builtins (modules and named exports)
// the filter imports, so they can be checked against that runtime.
import fs from 'node:fs'
import { isBuiltin } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type BuildOptions, type Message, type Metafile, type OutputFile, type Plugin } from 'esbuild'
import { BUNDLE_UNDICI_MARKER, UNDICI_GLOBALS } from '../sdk/internal/contract.js'
import { toolError } from './lib/errors.js'
import { runtimeInfo } from './lib/runtimes.js'

const here = path.dirname(fileURLToPath(import.meta.url))
// In a checkout of nodevoy, `import 'nodevoy'` means the SDK's TypeScript source; installed from npm
// it resolves to the package like any dependency.
const sdkSource = [path.join(here, '..', 'sdk', 'index.ts'), path.join(here, '..', '..', 'sdk', 'index.ts')].find((p) =>
  fs.existsSync(p),
)

/** esbuild's target for the Node a runtime embeds (default: the runtime in use, e.g. node18.20). */
export function embeddedNodeTarget(runtime?: string): string {
  return runtimeInfo(runtime).esbuildTarget
}

export interface BundleResult {
  /** Every source file that went into the bundle (absolute paths), for watching. */
  inputs: string[]
  warnings: string[]
}

export function formatMessage(m: Message): string {
  const where = m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : ''
  return `${where}${m.text}`
}

// Whether a bundle refers to the globals Node backs with undici (UNDICI_GLOBALS), recorded on its
// first line (BUNDLE_UNDICI_MARKER) so libnodevoy loads undici at bundle load only when it may be
// used (it costs ~4 MB per Node environment). esbuild itself finds the references: every free
// identifier `fetch`, `Headers`, ... and every `global.fetch`, ... is defined as `globalThis.fetch`
// (the same value), so locals of those names, properties (stream.fetch), types and comments do not
// count; then the output is searched for `globalThis.<name>` and `globalThis['<name>']`. A use the
// search cannot see (globalThis['fe' + 'tch'], eval) still works: the runtime loads undici then,
// with a load's CPU budget (sdk/internal/bootstrap.ts), at the cost of that request's latency.
const undiciDefines = Object.fromEntries(
  UNDICI_GLOBALS.flatMap((name) => [
    [name, `globalThis.${name}`],
    [`global.${name}`, `globalThis.${name}`],
  ]),
)
const undiciNames = UNDICI_GLOBALS.join('|')
const UNDICI_REFERENCE = new RegExp(
  `\\bglobalThis\\s*\\??\\.\\s*(?:${undiciNames})\\b|\\bglobalThis\\s*(?:\\?\\.)?\\s*\\[\\s*(['"\`])(?:${undiciNames})\\1\\s*\\]`,
)
// The first line esbuild writes; replaced once the output is known (left as is, it means "may use").
const UNDICI_MARKER_PENDING = `${BUNDLE_UNDICI_MARKER}pending`

/** The bundle's code with its first line saying whether it refers to undici's globals. */
export function markUndiciUse(code: string): string {
  if (!code.startsWith(`${UNDICI_MARKER_PENDING}\n`)) return code
  const rest = code.slice(UNDICI_MARKER_PENDING.length)
  return `${BUNDLE_UNDICI_MARKER}${UNDICI_REFERENCE.test(rest) ? 'used' : 'unused'}${rest}`
}

/**
 * The code with the non-ASCII characters of its comments replaced by `?`, one per UTF-16 unit (so
 * the source map's columns stay right). V8 keeps a bundle's whole source in every Node environment,
 * and one non-ASCII character makes it a two-byte string: twice the memory (basic-auth: 1.6 MB
 * instead of 0.8 MB per environment). esbuild escapes non-ASCII characters everywhere (charset
 * ascii, its default: strings, templates, regular expressions, names) but in the comments it keeps,
 * which it writes on lines of their own; so only lines that are a `//` comment are changed, and
 * when another line has a non-ASCII character the code is returned as it is.
 */
export function asciiComments(code: string): string {
  if (!/[^\x00-\x7f]/.test(code)) return code
  let commentsOnly = true
  const replaced = code.replace(/^.*[^\x00-\x7f].*$/gm, (line) => {
    if (!/^\s*\/\//.test(line)) commentsOnly = false
    return line.replace(/[^\x00-\x7f]/g, '?')
  })
  return commentsOnly ? replaced : code
}

/** What the bundler does to esbuild's output: the undici marker, ASCII comments. */
export function finishBundle(code: string): string {
  return asciiComments(markUndiciUse(code))
}

// Finishes the bundle: the written file, or the output files (write: false).
const finishPlugin: Plugin = {
  name: 'nodevoy-finish-bundle',
  setup(build) {
    build.onEnd((result) => {
      if (result.errors.length > 0) return
      const isBundle = (file: string) => file.endsWith('.js') || file.endsWith('.cjs') || file.endsWith('.mjs')
      if (result.outputFiles) {
        result.outputFiles = result.outputFiles.map((file): OutputFile => {
          if (!isBundle(file.path)) return file
          const text = finishBundle(file.text)
          if (text === file.text) return file
          return { path: file.path, contents: Buffer.from(text), hash: file.hash, text }
        })
        return
      }
      const outfile = build.initialOptions.outfile
      if (!outfile || !isBundle(outfile) || !fs.existsSync(outfile)) return
      const code = fs.readFileSync(outfile, 'utf8')
      const finished = finishBundle(code)
      if (finished !== code) fs.writeFileSync(outfile, finished)
    })
  },
}

/** esbuild options for a filter bundle: one CommonJS file for the embedded runtime, map alongside. */
export function bundleOptions(entry: string, outfile: string, runtime?: string): BuildOptions & { metafile: true } {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: embeddedNodeTarget(runtime),
    // A linked map (bundle.js.map) costs nothing unless source maps are enabled
    // (NODEVOY_NODE_OPTIONS=--enable-source-maps, the default of `nodevoy dev` and startFilter); an
    // inline one costs ~10 MB per Node environment.
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'silent',
    legalComments: 'none',
    define: undiciDefines,
    banner: { js: UNDICI_MARKER_PENDING },
    plugins: [finishPlugin],
    ...(sdkSource ? { alias: { nodevoy: sdkSource } } : {}),
  }
}

/** The error for a failed bundling: every esbuild error with its file:line:column. */
export function bundleError(entry: string, errors: Message[]): Error {
  return toolError('NODEVOY_ERR_BUILD_FAILED', `bundling ${entry} failed:\n${errors.map(formatMessage).join('\n')}`)
}

/** Source files of a build (absolute paths). */
export function metafileInputs(metafile: Metafile, root = process.cwd()): string[] {
  return Object.keys(metafile.inputs).map((p) => path.resolve(root, p))
}

export async function bundleFilter(entry: string, outfile: string, runtime?: string): Promise<BundleResult> {
  try {
    const result = await build(bundleOptions(entry, outfile, runtime))
    return { inputs: metafileInputs(result.metafile), warnings: result.warnings.map(formatMessage) }
  } catch (error) {
    const errors = (error as { errors?: Message[] }).errors
    if (errors?.length) throw bundleError(entry, errors)
    throw error
  }
}

/** A Node builtin module a filter imports, the names it imports from it, and which files do. */
export interface BuiltinImport {
  module: string
  /** Named imports (`import { styleText } from 'node:util'`); namespace and default imports are not followed. */
  names: string[]
  /** Source files importing it (relative to the working directory). */
  importers: string[]
}

// `import { a, b as c } from "mod"`, `import d, { a } from "mod"`, `import * as ns from "mod"`, as
// esbuild writes external imports in ESM output.
const IMPORT_STATEMENT = /^import\s+(?:[\w$]+\s*,\s*)?(?:\{([^}]*)\}|\*\s+as\s+[\w$]+|[\w$]+)\s+from\s+"([^"]+)";?$/gm

/**
 * The Node builtins a filter entry imports, found by bundling it as ESM (where esbuild keeps the
 * import statements of external modules, with their names) without writing anything.
 */
export async function scanBuiltinImports(entry: string): Promise<BuiltinImport[]> {
  let result
  try {
    result = await build({
      ...bundleOptions(entry, path.join(path.dirname(entry), 'nodevoy-scan.mjs')),
      format: 'esm',
      target: 'esnext',
      sourcemap: false,
      write: false,
      plugins: [],  // the bundle's finishing is for the bundle that runs
    })
  } catch (error) {
    const errors = (error as { errors?: Message[] }).errors
    if (errors?.length) throw bundleError(entry, errors)
    throw error
  }
  const uses = new Map<string, BuiltinImport>()
  const use = (module: string) => {
    let found = uses.get(module)
    if (!found) uses.set(module, (found = { module, names: [], importers: [] }))
    return found
  }
  const builtin = (specifier: string) => specifier.startsWith('node:') || isBuiltin(specifier)
  for (const [file, input] of Object.entries(result.metafile.inputs)) {
    for (const imported of input.imports) {
      if (imported.external && builtin(imported.path)) {
        const entryUse = use(imported.path)
        if (!entryUse.importers.includes(file)) entryUse.importers.push(file)
      }
    }
  }
  const text = result.outputFiles?.[0]?.text ?? ''
  for (const match of text.matchAll(IMPORT_STATEMENT)) {
    const [, named, specifier] = match
    if (!specifier || !builtin(specifier) || !named) continue
    const entryUse = use(specifier)
    for (const part of named.split(',')) {
      const name = part.trim().split(/\s+as\s+/)[0]?.trim()
      if (name && name !== 'default' && !entryUse.names.includes(name)) entryUse.names.push(name)
    }
  }
  return [...uses.values()]
}
