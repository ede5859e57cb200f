// Bundles the filters the hook-crossing benchmark loads.
import { bundleFilter } from '../scripts/bundle.js'

const out = process.argv[2] ?? 'out/bench'
await bundleFilter('bench/filters/noop.ts', `${out}/noop.js`)
await bundleFilter('bench/filters/noop-class.ts', `${out}/noop-class.js`)
await bundleFilter('examples/basic-auth/filter.ts', `${out}/basic-auth.js`)
