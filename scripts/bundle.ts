// Bundles a filter entry and its dependencies (the nodevoy SDK included) into one CommonJS file for
// the Node 18 runtime embedded in libnodevoy.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type Message } from 'esbuild'
import { CliError } from './lib/errors.js'

const here = path.dirname(fileURLToPath(import.meta.url))
// In a checkout of nodevoy, `import 'nodevoy'` means the SDK's TypeScript source; installed from npm
// it resolves to the package like any dependency.
const sdkSource = [path.join(here, '..', 'sdk', 'index.ts'), path.join(here, '..', '..', 'sdk', 'index.ts')].find((p) =>
  fs.existsSync(p),
)

/** The Node version libnodevoy embeds (Debian 12's libnode108). */
export const EMBEDDED_NODE_TARGET = 'node18.20'

export interface BundleResult {
  /** Every source file that went into the bundle (absolute paths), for watching. */
  inputs: string[]
  warnings: string[]
}

function formatMessage(m: Message): string {
  const where = m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : ''
  return `${where}${m.text}`
}

export async function bundleFilter(entry: string, outfile: string): Promise<BundleResult> {
  try {
    const result = await build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: EMBEDDED_NODE_TARGET,
      // A linked map (bundle.js.map) costs nothing unless NODEVOY_NODE_OPTIONS=--enable-source-maps asks
      // for TypeScript locations in stack traces; an inline one costs ~10 MB per Node environment.
      sourcemap: 'linked',
      metafile: true,
      logLevel: 'silent',
      legalComments: 'none',
      ...(sdkSource ? { alias: { nodevoy: sdkSource } } : {}),
    })
    const root = process.cwd()
    return {
      inputs: Object.keys(result.metafile.inputs).map((p) => path.resolve(root, p)),
      warnings: result.warnings.map(formatMessage),
    }
  } catch (error) {
    const errors = (error as { errors?: Message[] }).errors
    if (errors?.length) throw new CliError(`bundling ${entry} failed:\n${errors.map(formatMessage).join('\n')}`)
    throw error
  }
}
