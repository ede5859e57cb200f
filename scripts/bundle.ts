// Bundles a filter entry and its dependencies (the nodevoy SDK included) into one CommonJS file for
// the Node 18 runtime embedded in libnodevoy. Used by tests and the demo; `nodevoy build` wraps it.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** The Node version libnodevoy embeds (Debian 12's libnode108). */
export const EMBEDDED_NODE_TARGET = 'node18.20'

export async function bundleFilter(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: EMBEDDED_NODE_TARGET,
    // A linked map (bundle.js.map) costs nothing unless NODEVOY_NODE_OPTIONS=--enable-source-maps asks
    // for TypeScript locations in stack traces; an inline one costs ~10 MB per Node environment.
    sourcemap: 'linked',
    logLevel: 'silent',
    legalComments: 'none',
    // Inside this repository the SDK is its TypeScript source; installed, it is the package.
    alias: { nodevoy: path.join(repoRoot, 'sdk/index.ts') },
  })
}
