// Inspects a bundle in the runtime it will run in: libnodevoy, inside the dev host in validate mode
// (`--mode validate`, as `envoy --mode validate`), on the embedded Node. A small inspection filter
// (PROBE below) is the config libnodevoy loads; in the config-validation environment it loads the
// user's bundle, lists the filters it exports, looks up the builtins the filter imports, and
// instantiates the chosen filter exactly as libnodevoy does (config through its schema — `{}` when
// no config is given, as libnodevoy passes — then create()), and writes what it found to a report
// file. Nothing is read from stdout, so a bundle that prints does not disturb it.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { FILTER_BRAND, LOAD_BUNDLE, PROTOCOL_VERSION } from '../../sdk/internal/contract.js'
import type { BuiltinImport } from '../bundle.js'
import { moduleEnv } from './devhost.js'
import { bootstrap, toYaml } from './envoy-config.js'
import { ConfigError, toolError, type ConfigIssue, type Terms } from './errors.js'
import { devHostPath, libnodeDir, libnodevoyPath } from './paths.js'
import { runtimeInfo } from './runtimes.js'

/** What the inspection filter reports (written by PROBE). */
export interface ProbeReport {
  /** process.version of the embedded runtime. */
  runtime: string
  /** Export names of each builtin asked about, or null when the runtime has no such module. */
  builtins: Record<string, string[] | null>
  /** The bundle's top-level code threw: the stack. */
  loadError?: string
  /** Names of the filters the bundle exports. */
  filters: string[]
  /** The filter protocol of filters made by another nodevoy release, when the bundle has only such. */
  otherProtocol?: number
  /** The filter instantiated (absent when none could be chosen). */
  chosen?: string
  /** The config did not pass the filter's schema. */
  configIssues?: ConfigIssue[]
  /** defineFilter refused the definition, or the schema is asynchronous. */
  definitionError?: string
  /** create() threw: the stack. */
  createError?: string
  /** Warnings the filter logged while created (e.g. an unknown hook name). */
  warnings: string[]
}

const PROBE = String.raw`'use strict';
// nodevoy's inspection filter (scripts/lib/inspect.ts). Its config is the inspection request.
const fs = require('fs');
const Module = require('module');
const brand = Symbol.for(${JSON.stringify(FILTER_BRAND)});
const inert = { hooks: 0, dispatch() { return 0; }, dispose() {} };
// The stack up to the user's code: the frames of this probe and of libnodevoy's bootstrap only confuse.
const describe = (e) => {
  const text = e && e.stack ? String(e.stack) : String(e);
  const lines = text.split('\n');
  const cut = lines.findIndex((l) => l.includes(__filename) || l.includes('node:embedder_main') || l.includes('(node:internal/modules/'));
  return (cut > 0 ? lines.slice(0, cut) : lines).join('\n');
};
// The bundle is loaded by libnodevoy's own loader (its bootstrap), exactly as it will be in Envoy.
const load = globalThis[Symbol.for(${JSON.stringify(LOAD_BUNDLE)})];
module.exports = { [brand]: { name: 'nodevoy-inspect', instantiate(binding, configJson, filterId) {
  if (binding.workerIndex() !== -1) return inert;  // only the config-validation environment inspects
  const request = JSON.parse(configJson);
  const report = { runtime: process.version, builtins: {}, filters: [], warnings: [] };
  try {
    for (const name of request.builtins) {
      try { report.builtins[name] = Module.isBuiltin(name) ? Object.keys(require(name)) : null; } catch { report.builtins[name] = null; }
    }
    let exports;
    try { exports = load(request.bundle); } catch (e) { report.loadError = describe(e); return inert; }
    const found = new Map();
    const consider = (v) => { if (v && (typeof v === 'object' || typeof v === 'function') && v[brand]) found.set(v[brand].name, v); };
    consider(exports);
    if (exports && typeof exports === 'object') for (const key of Object.keys(exports)) consider(exports[key]);
    report.filters = [...found.keys()];
    if (found.size === 0) {
      for (const value of exports && typeof exports === 'object' ? [exports, ...Object.values(exports)] : [exports]) {
        if (!value || (typeof value !== 'object' && typeof value !== 'function')) continue;
        for (const symbol of Object.getOwnPropertySymbols(value)) {
          const match = /^nodevoy\.filter\.v(\d+)$/.exec(symbol.description || '');
          if (match && Number(match[1]) !== ${PROTOCOL_VERSION}) report.otherProtocol = Number(match[1]);
        }
      }
    }
    const chosen = request.filter !== undefined ? found.get(request.filter) : found.size === 1 ? [...found.values()][0] : undefined;
    if (!chosen) return inert;
    report.chosen = chosen[brand].name;
    const spy = Object.create(binding, { log: { value(level, message) {
      if (level >= 3) report.warnings.push(String(message));
      return binding.log(level, message);
    } } });
    try {
      const handle = chosen[brand].instantiate(spy, request.configJson, filterId);
      if (handle && typeof handle.dispose === 'function') handle.dispose();
    } catch (e) {
      if (e && e.code === 'NODEVOY_ERR_INVALID_CONFIG' && Array.isArray(e.issues)) report.configIssues = e.issues;
      else if (e && e.code === 'NODEVOY_ERR_INVALID_ARGUMENT') report.definitionError = String(e.message);
      else report.createError = describe(e);
    }
    return inert;
  } finally {
    fs.writeFileSync(request.report, JSON.stringify(report));
  }
} } };
`

export interface InspectOptions {
  /** The bundle (absolute path). */
  bundle: string
  /** The filter to inspect (default: the only one). */
  filter?: string
  /** The filter's config; undefined: none given (libnodevoy then hands the filter `{}`). */
  config?: unknown
  /** Where the config came from, for messages (e.g. the file name). */
  configSource?: string
  /** Builtins the filter's sources import (scanBuiltinImports), checked against the runtime. */
  builtins?: BuiltinImport[]
  /** How messages name the options (CLI flags or API options). */
  terms: Terms
  /** Where to put the inspection's files (default: the system's temporary directory); removed after. */
  workDir?: string
  /** The runtime to inspect in (default: the one in use, runtimes.ts activeRuntime()); it must run here. */
  runtime?: string
}

export interface InspectResult {
  /** The chosen filter's name. */
  name: string
  /** Every filter the bundle exports. */
  filters: string[]
  /** Warnings to show (the filter still works). */
  warnings: string[]
  report: ProbeReport
}

/** Runs the inspection filter in libnodevoy in the dev host; resolves with its report. */
export async function runProbe(options: Omit<InspectOptions, 'terms'>): Promise<ProbeReport> {
  const devHost = devHostPath()
  const module = libnodevoyPath(runtimeInfo(options.runtime).name)
  const libnode = libnodeDir(runtimeInfo(options.runtime))
  const probeDir = fs.mkdtempSync(options.workDir ? path.join(options.workDir, 'probe-') : path.join(os.tmpdir(), 'nodevoy-inspect-'))
  try {
    const modules = path.join(probeDir, 'modules')
    fs.mkdirSync(modules)
    fs.symlinkSync(module, path.join(modules, 'libnodevoy.so'))
    const probe = path.join(probeDir, 'probe.js')
    fs.writeFileSync(probe, PROBE)
    const report = path.join(probeDir, 'report.json')
    const request = {
      bundle: options.bundle,
      filter: options.filter,
      configJson: options.config === undefined ? '{}' : JSON.stringify(options.config),
      builtins: (options.builtins ?? []).map((b) => b.module),
      report,
    }
    const config = path.join(probeDir, 'envoy.yaml')
    fs.writeFileSync(
      config,
      toYaml(
        bootstrap({
          filters: [{ filter: 'nodevoy-inspect', bundlePath: probe, config: request }],
          listen: { address: '127.0.0.1', port: 0 },
          admin: { address: '127.0.0.1', port: 0 },
          upstream: { directResponse: { status: 200, body: '' } },
        }),
      ),
    )
    const env = withSourceMaps(moduleEnv(modules, libnode))
    delete env.NODEVOY_INSPECT  // the inspector belongs to the dev loop's host, not to this one
    const output = await new Promise<{ code: number | null; text: string }>((resolve, reject) => {
      const child = spawn(devHost, ['--mode', 'validate', '-c', config, '--concurrency', '1', '--log-level', 'warning'], {
        env,
        stdio: ['ignore', 'ignore', 'pipe'],  // stdout: the dev host's "OK" line and whatever the bundle prints
      })
      let text = ''
      child.stderr!.on('data', (d: Buffer) => (text += d.toString()))
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
      child.on('error', reject)
      child.on('exit', (code) => {
        clearTimeout(timer)
        resolve({ code, text })
      })
    })
    if (!fs.existsSync(report)) {
      throw toolError(
        'NODEVOY_ERR_DEVHOST_FAILED',
        `inspecting the bundle in libnodevoy failed (the dev host exited with ${output.code}) before it could report:\n${output.text.trim()}`,
      )
    }
    return JSON.parse(fs.readFileSync(report, 'utf8')) as ProbeReport
  } finally {
    fs.rmSync(probeDir, { recursive: true, force: true })
  }
}

/** NODEVOY_NODE_OPTIONS with --enable-source-maps added: stack traces point into the TypeScript sources. */
export function withSourceMaps(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const options = env.NODEVOY_NODE_OPTIONS ?? ''
  if (/(^|\s)--(enable|no-enable)-source-maps(\s|$)/.test(options)) return { ...env }
  return { ...env, NODEVOY_NODE_OPTIONS: `${options} --enable-source-maps`.trim() }
}

/**
 * Inspects a bundle and turns the report into a decision: the chosen filter and warnings, or a coded
 * error saying what is wrong and what to do.
 */
export async function inspectFilter(options: InspectOptions): Promise<InspectResult> {
  const report = await runProbe(options)
  const { terms } = options
  const runtime = runtimeInfo(options.runtime)
  const node = `Node ${runtime.nodeVersion}`
  const unsupported: string[] = []
  for (const use of options.builtins ?? []) {
    const exports = report.builtins[use.module]
    const where = use.importers.length ? ` (imported by ${use.importers.join(', ')})` : ''
    if (exports === null || exports === undefined) {
      unsupported.push(`"${use.module}"${where}: no such module in ${node}`)
      continue
    }
    const missing = use.names.filter((n) => !exports.includes(n))
    if (missing.length) unsupported.push(`${missing.map((n) => `"${n}"`).join(', ')} from "${use.module}"${where}: not in ${node}'s ${use.module}`)
  }
  if (unsupported.length) {
    throw toolError(
      'NODEVOY_ERR_UNSUPPORTED_API',
      `the filter uses Node APIs that the runtime libnodevoy embeds (${node}, ${report.runtime}) does not have:\n  ` +
        `${unsupported.join('\n  ')}\nUse what ${node} offers (the nodevoy/tsconfig.${runtime.name}.json preset with @types/node@${runtime.typesNode} shows it at type-check time).`,
    )
  }
  if (report.loadError) {
    throw toolError('NODEVOY_ERR_LOAD_FAILED', `loading the bundle in libnodevoy (${node}) failed: its top-level code threw:\n${indent(report.loadError)}`)
  }
  if (report.filters.length === 0 && report.otherProtocol !== undefined) {
    throw toolError(
      'NODEVOY_ERR_NO_FILTER',
      `the entry's filters were made by another nodevoy release (filter protocol v${report.otherProtocol}; this one speaks ` +
        `v${PROTOCOL_VERSION}): import defineFilter from the nodevoy that runs this command`,
    )
  }
  if (report.filters.length === 0) {
    throw toolError('NODEVOY_ERR_NO_FILTER', 'the entry exports no filter: export the result of defineFilter() (default or named export)')
  }
  const list = report.filters.map((f) => `"${f}"`).join(', ')
  if (!report.chosen) {
    if (options.filter !== undefined) throw toolError('NODEVOY_ERR_NO_FILTER', `no filter named "${options.filter}"; the entry exports ${list}`)
    throw toolError('NODEVOY_ERR_NO_FILTER', `the entry exports several filters (${list}); choose one with ${terms.filter}`)
  }
  const name = report.chosen
  if (report.definitionError) throw toolError('NODEVOY_ERR_INVALID_ARGUMENT', report.definitionError)
  if (report.configIssues) {
    const detail =
      options.config === undefined
        ? `No config was given, so Envoy would hand the filter {} and refuse it the same way: pass its config with ${terms.config}`
        : options.configSource
          ? `The config came from ${options.configSource}`
          : undefined
    throw new ConfigError(name, report.configIssues, detail)
  }
  if (report.createError) {
    throw toolError('NODEVOY_ERR_CREATE_FAILED', `create() of filter "${name}" threw (Envoy would refuse this config):\n${indent(report.createError)}`)
  }
  return { name, filters: report.filters, warnings: report.warnings.map((w) => `filter "${name}": ${w.replace(/^\[[^\]]*\] /, '')}`), report }
}

function indent(text: string): string {
  return text
    .trim()
    .split('\n')
    .slice(0, 12)
    .map((l) => `  ${l}`)
    .join('\n')
}
