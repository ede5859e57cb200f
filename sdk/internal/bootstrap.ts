// The main script of every Node environment libnodevoy creates (bundled into
// host/module/bootstrap.gen.h by scripts/gen-contract.ts). It wires the native binding, makes
// nextTick observable to the native side, guards the proxy against what filter code can do through
// `process`, and finds and instantiates filters in loaded bundles. Builtins are imported without the
// node: prefix: the bootstrap's require is Node's internal one.
import { EventEmitter } from 'events'
import fs from 'fs'
import Module from 'module'
import os from 'os'
import path from 'path'
import { format } from 'util'
import type { NativeBinding } from './binding.js'
import { BUNDLE_UNDICI_MARKER, FILTER_BRAND, LOAD_BUNDLE, LOG_CONTEXT, LogLevelValue, UNDICI_GLOBALS } from './contract.js'
import { describe } from './describe.js'
import { findFilter } from './find-filter.js'

declare const process: NodeJS.Process & {
  _linkedBinding(name: string): unknown
  _tickCallback(): void
  _kill(pid: number, signal: number): unknown
  reallyExit(code: number): never
}

const binding = process._linkedBinding('nodevoy') as NativeBinding
const apply = Reflect.apply

// ---- nextTick: the native side drains ticks only when some were queued ----
const tickFlag = new Int32Array(1)
const nextTick = process.nextTick
process.nextTick = function (this: unknown, ...args: unknown[]) {
  tickFlag[0] = 1
  return apply(nextTick, this, args)
} as typeof process.nextTick
const runTicks = process._tickCallback
const processTicks = (): void => {
  tickFlag[0] = 0
  runTicks()
}

function notAllowed(what: string, why: string): Error {
  const error = new Error(`${what} is not allowed in a nodevoy filter: ${why}`) as Error & { code: string }
  error.name = 'NodevoyError'
  error.code = 'NODEVOY_ERR_NOT_ALLOWED'
  return error
}

// ---- A filter cannot stop, crash or take over the proxy through `process` ----
// Errors outside hooks: one capture callback (it cannot be replaced) logs, counts, then calls the
// filter's own 'uncaughtException' listeners, each guarded: a listener that throws (or a filter that
// removed every listener) can no longer turn an error into a process exit.
const realEmit = process.emit
const rawListeners = EventEmitter.prototype.rawListeners
function callListeners(type: string, args: unknown[]): boolean {
  let called = false
  for (const listener of apply(rawListeners, process, [type]) as ((...a: unknown[]) => unknown)[]) {
    called = true
    try {
      apply(listener, process, args)
    } catch (error) {
      try {
        binding.log(LogLevelValue.Error, `nodevoy: a process '${type}' listener threw: ${describe(error)}`)
      } catch {
        // nothing more can be done
      }
    }
  }
  return called
}
process.setUncaughtExceptionCaptureCallback((error) => {
  try {
    binding.uncaught(`nodevoy: uncaught exception outside a hook: ${describe(error)}`)
  } catch {
    // logging must not throw from here: that would be fatal
  }
  try {
    callListeners('uncaughtException', [error, 'uncaughtException'])
  } catch {
    // as above
  }
})
process.setUncaughtExceptionCaptureCallback = () => {
  throw notAllowed(
    'process.setUncaughtExceptionCaptureCallback',
    'nodevoy logs and counts uncaught exceptions; add a process "uncaughtException" listener to observe them',
  )
}
// Node emits these itself around uncaught errors and rejections; their listeners are guarded too.
process.emit = function emit(this: unknown, type: string | symbol, ...args: unknown[]): boolean {
  if (type === 'unhandledRejection') {
    try {
      binding.uncaught(`nodevoy: unhandled promise rejection: ${describe(args[0])}`)
    } catch {
      // as above
    }
    callListeners(type, args)
    return true
  }
  if (type === 'uncaughtExceptionMonitor' || type === 'uncaughtException') return callListeners(type, args)
  return apply(realEmit, this, [type, ...args]) as boolean
} as typeof process.emit
process.exit = ((code?: number) => {
  binding.log(LogLevelValue.Error, `nodevoy: filter code called process.exit(${describe(code)}); ignored (a filter cannot stop the proxy)`)
}) as typeof process.exit
process.reallyExit = () => {
  throw notAllowed('process.reallyExit', 'a filter cannot stop the proxy')
}
process.abort = () => {
  throw notAllowed('process.abort()', 'a filter cannot stop the proxy; throw an error instead')
}
const realKill = process._kill
process._kill = (pid: number, signal: number) => {
  // What process.kill() calls, with the signal as a number; the native side converts strings too.
  const target = Number(pid)
  if (Number(signal) !== 0 && (target === process.pid || target === 0 || target < 0 || Number.isNaN(target))) {
    throw notAllowed(`process.kill(${String(pid)})`, 'it would signal the proxy itself')
  }
  return realKill(pid, signal)
}
const refuseWhole = (name: string, why: string): void => {
  if (typeof (process as unknown as Record<string, unknown>)[name] !== 'function') return
  ;(process as unknown as Record<string, unknown>)[name] = () => {
    throw notAllowed(`process.${name}()`, why)
  }
}
refuseWhole('chdir', 'it would change the working directory of the whole proxy')
for (const name of ['setuid', 'setgid', 'seteuid', 'setegid', 'setgroups', 'initgroups']) {
  refuseWhole(name, 'it would change the privileges of the whole proxy')
}
if (process.env.NODEVOY_ALLOW_NATIVE_ADDONS !== '1') {
  process.dlopen = (_module: object, filename: string) => {
    throw notAllowed(
      `loading the native addon ${filename}`,
      "native code runs unguarded inside Envoy; set NODEVOY_ALLOW_NATIVE_ADDONS=1 in the proxy's environment to allow it",
    )
  }
}
// Signals belong to Envoy: a listener would install a handler that takes SIGTERM/SIGINT from it.
const signalNames = new Set(Object.keys(os.constants.signals))
for (const listener of apply(rawListeners, process, ['newListener']) as ((...a: unknown[]) => void)[]) {
  if (listener.name === 'startListeningIfSignal') process.removeListener('newListener', listener)
}
process.on('newListener', (type: string | symbol) => {
  if (typeof type === 'string' && signalNames.has(type)) {
    throw notAllowed(`process.on('${type}')`, 'signals belong to Envoy (use onDestroy to clean up when a config goes away)')
  }
})
const linkedBinding = process._linkedBinding
process._linkedBinding = (name: string) => {
  if (String(name) === 'nodevoy') throw notAllowed("process._linkedBinding('nodevoy')", 'the binding is internal to the SDK')
  return linkedBinding(name)
}

// ---- console: to Envoy's log (logger dynamic_modules), tagged with the filter and the stream ----
// Inside a hook's synchronous part the tag names the filter and stream; elsewhere (timers, code run
// after an await) the filter only, when known. Nothing is formatted when Envoy's level is off.
const logContextKey = Symbol.for(LOG_CONTEXT)
function consoleMethod(level: LogLevelValue): (...args: unknown[]) => void {
  return (...args: unknown[]) => {
    try {
      if (!binding.logEnabled(level)) return
      const cell = (globalThis as unknown as Record<symbol, { current?: { logPrefix(): string } } | undefined>)[logContextKey]
      const context = cell?.current
      const prefix = context ? context.logPrefix() : '[nodevoy]'
      binding.log(level, `${prefix} ${format(...args)}`)
    } catch {
      // logging never throws into filter code
    }
  }
}
console.log = consoleMethod(LogLevelValue.Info)
console.info = consoleMethod(LogLevelValue.Info)
console.debug = consoleMethod(LogLevelValue.Debug)
console.warn = consoleMethod(LogLevelValue.Warn)
console.error = consoleMethod(LogLevelValue.Error)
const consoleTrace = consoleMethod(LogLevelValue.Debug)
console.trace = (...args: unknown[]) => consoleTrace(format(...args), '\n', new Error('trace').stack?.split('\n').slice(2).join('\n'))

// ---- Node's fetch (undici): loaded when a bundle needs it, and never cut short ----
// Node loads undici on first use of fetch or one of its classes: ~100 ms of CPU, more than a hook's
// budget, and ~4 MB per environment. A bundle that may use them (the bundler found a reference, or
// the bundle does not say: BUNDLE_UNDICI_MARKER) has it loaded when the bundle loads, off the request
// path. Any other first use — code the bundler could not see through, like globalThis['fe' + 'tch'] —
// loads it with a load's CPU budget (withLoadBudget): a load the watchdog stopped halfway would leave
// Node's lazy loader broken for the environment. A filter's first fetch() call gets that budget too,
// loaded or not: its synchronous part compiles much of undici (tens of ms). Then Node's own globals
// are put back.
const restoreUndiciClasses: (() => void)[] = []
let undiciLoaded = false
function withUndiciLoaded<T>(use: () => T): T {
  if (undiciLoaded) return use()
  try {
    return binding.withLoadBudget(use)
  } finally {
    undiciLoaded = true  // tried: once only, whatever happened
    for (const restore of restoreUndiciClasses.splice(0)) restore()
  }
}
let fetchOfNode: ((...args: unknown[]) => unknown) | undefined
for (const name of UNDICI_GLOBALS) {
  const own = Object.getOwnPropertyDescriptor(globalThis, name)
  if (own?.get) {
    // A lazy class (Headers, Response, ...): Node's getter loads undici.
    const get = own.get
    const guard = { ...own, get: function (this: unknown) { return withUndiciLoaded(() => apply(get, this, [])) } }
    Object.defineProperty(globalThis, name, guard)
    restoreUndiciClasses.push(() => {
      if (Object.getOwnPropertyDescriptor(globalThis, name)?.get === guard.get) Object.defineProperty(globalThis, name, own)
    })
  } else if (name === 'fetch' && typeof own?.value === 'function') {
    // fetch(): Node's loads undici when called.
    // Only the first call gets the load's budget (a reference kept to the guard must not give every
    // later call a fresh budget).
    const original = (fetchOfNode = own.value as (...args: unknown[]) => unknown)
    let called = false
    const guard = {
      fetch(this: unknown, ...args: unknown[]) {
        if (called) return apply(original, this, args)
        called = true
        if (globalThis.fetch === guard) Object.defineProperty(globalThis, name, own)
        return binding.withLoadBudget(() => withUndiciLoaded(() => apply(original, this, args)))
      },
    }.fetch
    Object.defineProperty(guard, 'length', { value: original.length })
    Object.defineProperty(globalThis, name, { ...own, value: guard })
  }
}
// At bundle load (a task with a load's budget): a fetch that exercises what a first request would.
function warmUpUndici(): void {
  if (undiciLoaded || !fetchOfNode) return
  const fetchData = fetchOfNode
  try {
    const response = withUndiciLoaded(() => fetchData('data:,')) as Promise<Response>
    void response.then(
      (res) => res.arrayBuffer(),
      () => undefined,
    )
  } catch {
    // nothing to warm up
  }
}

// ---- Source maps, when enabled (NODEVOY_NODE_OPTIONS=--enable-source-maps: nodevoy dev, startFilter).
// Node's own support parses a bundle's whole map again for every stack trace it formats (Node 18
// makes a new SourceMap per trace: ~100 ms for a 1.5 MB map), which is charged to the hook that
// threw and can run it over its CPU budget. Instead each bundle's map is parsed once, when the
// bundle loads (off the request path), and stack traces are mapped through it.
let sourceMapCache: ((file: string, code: string) => void) | undefined
interface ParsedSourceMap {
  findEntry(line: number, column: number): { originalSource?: string; originalLine?: number; originalColumn?: number }
}
const sourceMaps = new Map<string, { map: ParsedSourceMap; dir: string }>()
const sourceMapsWanted = ((): boolean => {
  try {
    const options = (require as (id: string) => { getOptionValue(name: string): unknown })('internal/options')
    return options.getOptionValue('--enable-source-maps') === true
  } catch {
    return false
  }
})()
if (sourceMapsWanted) {
  ;(process as unknown as { setSourceMapsEnabled(on: boolean): void }).setSourceMapsEnabled(false)
  const SourceMapClass = (Module as unknown as { SourceMap: new (payload: unknown) => ParsedSourceMap }).SourceMap
  const cacheSourceMap = (file: string, code: string): void => {
    const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(code.slice(-4096))?.[1]
    if (!url) return
    try {
      const text = url.startsWith('data:')
        ? Buffer.from(url.slice(url.indexOf(',') + 1), url.includes(';base64,') ? 'base64' : 'utf8').toString('utf8')
        : fs.readFileSync(path.resolve(path.dirname(file), decodeURIComponent(url)), 'utf8')
      const payload = JSON.parse(text) as { sourceRoot?: string }
      sourceMaps.set(file, { map: new SourceMapClass(payload), dir: path.resolve(path.dirname(file), payload.sourceRoot ?? '') })
    } catch {
      // no usable map: traces stay on the bundle
    }
  }
  const mapFrame = (frame: NodeJS.CallSite): string => {
    const text = String(frame)
    const file = frame.getFileName()
    const source = file === null || file === undefined ? undefined : sourceMaps.get(file)
    const line = frame.getLineNumber()
    const column = frame.getColumnNumber()
    if (!source || line === null || column === null) return text
    const entry = source.map.findEntry(line - 1, column - 1)
    if (entry.originalSource === undefined || entry.originalLine === undefined || entry.originalColumn === undefined) return text
    const original = entry.originalSource.startsWith('file://') ? new URL(entry.originalSource).pathname : path.resolve(source.dir, entry.originalSource)
    const at = `${file}:${line}:${column}`
    const i = text.lastIndexOf(at)
    return i < 0 ? text : `${text.slice(0, i)}${original}:${entry.originalLine + 1}:${entry.originalColumn + 1}${text.slice(i + at.length)}`
  }
  Error.prepareStackTrace = (error: Error, frames: NodeJS.CallSite[]): string => {
    let head: string
    try {
      head = Error.prototype.toString.call(error)
    } catch {
      head = 'Error'
    }
    return frames.length === 0 ? head : `${head}\n    at ${frames.map(mapFrame).join('\n    at ')}`
  }
  sourceMapCache = cacheSourceMap
}

// Loads a bundle as libnodevoy does: always CommonJS, whatever the file's extension or the nearest
// package.json says, its source map read when source maps are on. Also offered to nodevoy's
// inspection filter (scripts/lib/inspect.ts), which loads the user's bundle the same way.
function loadBundle(file: string): unknown {
  const ModuleClass = Module as unknown as {
    new (id: string, parent: null): { filename: string; paths: string[]; exports: unknown; loaded: boolean; _compile(s: string, f: string): void }
    _nodeModulePaths(dir: string): string[]
  }
  const m = new ModuleClass(file, null)
  m.filename = file
  m.paths = ModuleClass._nodeModulePaths(path.dirname(file))
  const code = fs.readFileSync(file, 'utf8')
  if (!code.startsWith(`${BUNDLE_UNDICI_MARKER}unused\n`)) warmUpUndici()
  sourceMapCache?.(file, code)
  m._compile(code, file)
  m.loaded = true
  return m.exports
}
Object.defineProperty(globalThis, Symbol.for(LOAD_BUNDLE), { value: loadBundle })

binding.setup({
  tickFlag,
  processTicks,
  load: loadBundle,
  instantiate(exports: unknown, name: string, configJson: string, filterId: number, settleTimeoutMs: number) {
    return findFilter(exports, name)[Symbol.for(FILTER_BRAND)]!.instantiate(binding, configJson, filterId, settleTimeoutMs)
  },
  validateRoute(exports: unknown, name: string, routeJson: string) {
    findFilter(exports, name)[Symbol.for(FILTER_BRAND)]!.validateRouteConfig(routeJson)
  },
})
