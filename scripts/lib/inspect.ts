// Loads a bundle in a child Node process (its top-level code may do anything, e.g. start timers) and
// reports the filters it exports, and optionally whether a config passes a filter's schema.
import { execFile } from 'node:child_process'
import { FILTER_BRAND } from '../../sdk/internal/contract.js'
import { CliError } from './errors.js'

export interface FilterInfo {
  name: string
  hasConfigSchema: boolean
  /** Problems with the definition itself (schema without safeParse, create not a function). */
  problems: string[]
  /** When a config was given: the schema's complaints, or [] when it passes. */
  configIssues?: string[]
}

const INSPECTOR = String.raw`
const Module = require('module');
const fs = require('fs');
const [bundle, configJson] = process.argv.slice(1);
const m = new Module(bundle, null);
m.filename = bundle;
m.paths = Module._nodeModulePaths(require('path').dirname(bundle));
m._compile(fs.readFileSync(bundle, 'utf8'), bundle);
const brand = Symbol.for(${JSON.stringify(FILTER_BRAND)});
const found = new Map();
const consider = (v) => { if (v && (typeof v === 'object' || typeof v === 'function') && v[brand]) found.set(v[brand].name, v); };
consider(m.exports);
if (m.exports && typeof m.exports === 'object') for (const k of Object.keys(m.exports)) consider(m.exports[k]);
const config = configJson ? JSON.parse(configJson) : undefined;
const filters = [...found.values()].map((f) => {
  const def = f.definition || {};
  const problems = [];
  if (typeof def.create !== 'function') problems.push('create is not a function');
  if (def.config !== undefined && typeof (def.config && def.config.safeParse) !== 'function') problems.push('config is not a zod schema (no safeParse)');
  const info = { name: f[brand].name, hasConfigSchema: def.config !== undefined, problems };
  if (config !== undefined && problems.length === 0 && def.config) {
    const r = def.config.safeParse(config);
    info.configIssues = r.success ? [] : r.error.issues.map((i) => (i.path.length ? i.path.join('.') : '(config)') + ': ' + i.message);
  }
  return info;
});
process.stdout.write(JSON.stringify(filters));
process.exit(0);
`

export function inspectBundle(bundle: string, config?: unknown): Promise<FilterInfo[]> {
  const args = ['-e', INSPECTOR, bundle, ...(config === undefined ? [] : [JSON.stringify(config)])]
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { timeout: 30_000, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) {
        const detail = stderr.trim().split('\n').slice(0, 6).join('\n') || error.message
        reject(new CliError(`loading the bundle failed (its top-level code threw):\n${detail}`))
        return
      }
      try {
        resolve(JSON.parse(stdout) as FilterInfo[])
      } catch {
        reject(new CliError(`the bundle printed to stdout while loading; cannot inspect it: ${stdout.slice(0, 200)}`))
      }
    })
  })
}
