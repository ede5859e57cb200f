// Header rewriting: removes, sets, defaults and appends request headers (what the upstream sees) and
// response headers (what the client sees), as configured. Values may copy a request header with
// %REQ(name)%, e.g. to echo the client's x-request-id back on the response.
import { z } from 'zod'
import { defineFilter, type FilterHooks, type HeaderMap, type RequestHeaderMap } from 'nodevoy'

// RFC 9110 token characters; names are matched case-insensitively and stored lower-case.
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/
// Request pseudo-headers a rule may set: where the request goes and how it is made.
const SETTABLE_PSEUDO = new Set([':authority', ':path', ':method'])
// Managed by the proxy's codecs and connection handling; rewriting them breaks framing or routing.
const RESERVED = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'te'])
const TEMPLATE = /%REQ\(([^)]*)\)%/g

type Direction = 'request' | 'response'

function nameProblem(name: string, direction: Direction, op: 'set' | 'add' | 'remove'): string | undefined {
  const lower = name.toLowerCase()
  if (lower.startsWith(':')) {
    if (direction === 'request' && op === 'set' && SETTABLE_PSEUDO.has(lower)) return undefined
    return direction === 'request' && op === 'set'
      ? `pseudo-header ${name} cannot be set (only ${[...SETTABLE_PSEUDO].join(', ')})`
      : `pseudo-header ${name} cannot be ${op === 'remove' ? 'removed' : 'added'}`
  }
  if (!TOKEN.test(lower)) return `${JSON.stringify(name)} is not a valid header name`
  if (lower === 'host') return 'host is :authority in Envoy; set :authority instead'
  if (RESERVED.has(lower)) return `${lower} is managed by the proxy and cannot be rewritten`
  return undefined
}

function valueProblem(value: string): string | undefined {
  if (/[\0\r\n]/.test(value)) return 'a header value must not contain NUL, CR or LF'
  for (const match of value.matchAll(TEMPLATE)) {
    const source = match[1]!.toLowerCase()
    if (!TOKEN.test(source) && !/^:[a-z]+$/.test(source)) return `%REQ(${match[1]})% does not name a header`
  }
  return undefined
}

// A map of header name -> value(s), checked entry by entry so that a problem names its header.
function headerValues(direction: Direction, op: 'set' | 'add', multi: boolean) {
  const value = multi ? z.union([z.string(), z.array(z.string()).min(1)]) : z.string()
  return z.record(z.string(), value).superRefine((record, ctx) => {
    for (const [name, raw] of Object.entries(record)) {
      const problem = nameProblem(name, direction, op)
      if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem })
      const values = Array.isArray(raw) ? raw : [raw]
      values.forEach((v, i) => {
        const bad = valueProblem(v)
        if (bad) ctx.addIssue({ code: 'custom', path: Array.isArray(raw) ? [name, i] : [name], message: bad })
      })
    }
  })
}

function removals(direction: Direction) {
  return z.array(z.string()).superRefine((names, ctx) => {
    names.forEach((name, i) => {
      // A trailing `*` removes every header starting with what precedes it: `x-internal-*`.
      const base = name.endsWith('*') ? name.slice(0, -1) : name
      const problem = base === '' ? 'a prefix is needed before "*"' : nameProblem(base, direction, 'remove')
      if (problem) ctx.addIssue({ code: 'custom', path: [i], message: problem })
    })
  })
}

function rules(direction: Direction) {
  return z
    .object({
      /** Removed first. Exact names, or prefixes ending in `*`. */
      remove: removals(direction).default([]),
      /** Then set: replaces every value of the header, or adds it. */
      set: headerValues(direction, 'set', false).default({}),
      /** Then set only when the header is absent (after remove). */
      setIfAbsent: headerValues(direction, 'set', false).default({}),
      /** Then appended: one value or a list; existing values are kept. */
      add: headerValues(direction, 'add', true).default({}),
    })
    .strict()
}

const Config = z
  .object({
    request: rules('request').default({ remove: [], set: {}, setIfAbsent: {}, add: {} }),
    response: rules('response').default({ remove: [], set: {}, setIfAbsent: {}, add: {} }),
  })
  .strict()

/** A configured value: literal text and request headers to copy in, resolved per request. */
type Part = string | { header: string }

function parseValue(value: string): Part[] {
  const parts: Part[] = []
  let last = 0
  for (const match of value.matchAll(TEMPLATE)) {
    if (match.index! > last) parts.push(value.slice(last, match.index))
    parts.push({ header: match[1]!.toLowerCase() })
    last = match.index! + match[0].length
  }
  if (last < value.length) parts.push(value.slice(last))
  return parts
}

interface Rule {
  name: string
  parts: Part[]
}

interface CompiledRules {
  removeExact: string[]
  removePrefixes: string[]
  set: Rule[]
  setIfAbsent: Rule[]
  add: Rule[]
  /** Request headers the values refer to. */
  sources: Set<string>
}

function compile(config: z.output<ReturnType<typeof rules>>): CompiledRules {
  const sources = new Set<string>()
  const toRules = (record: Record<string, string | string[]>): Rule[] =>
    Object.entries(record).flatMap(([name, value]) =>
      (Array.isArray(value) ? value : [value]).map((v) => {
        const parts = parseValue(v)
        for (const part of parts) if (typeof part !== 'string') sources.add(part.header)
        return { name: name.toLowerCase(), parts }
      }),
    )
  return {
    removeExact: config.remove.filter((n) => !n.endsWith('*')).map((n) => n.toLowerCase()),
    removePrefixes: config.remove.filter((n) => n.endsWith('*')).map((n) => n.slice(0, -1).toLowerCase()),
    set: toRules(config.set),
    setIfAbsent: toRules(config.setIfAbsent),
    add: toRules(config.add),
    sources,
  }
}

const isEmpty = (r: CompiledRules) =>
  r.removeExact.length + r.removePrefixes.length + r.set.length + r.setIfAbsent.length + r.add.length === 0

/** The request headers a stream's values refer to, as they arrived at this filter. */
type Snapshot = Map<string, string | undefined>

function snapshot(headers: RequestHeaderMap, sources: Set<string>): Snapshot {
  const values: Snapshot = new Map()
  for (const name of sources) values.set(name, headers.get(name))
  return values
}

// The value for this request, or undefined when it refers to a request header the request lacks
// (the rule is then skipped rather than writing a half-empty value).
function render(parts: Part[], from: Snapshot): string | undefined {
  let out = ''
  for (const part of parts) {
    if (typeof part === 'string') {
      out += part
      continue
    }
    const value = from.get(part.header)
    if (value === undefined) return undefined
    out += value
  }
  return out
}

function apply(headers: HeaderMap, rules: CompiledRules, from: Snapshot): void {
  for (const name of rules.removeExact) headers.remove(name)
  if (rules.removePrefixes.length > 0) {
    const matching = new Set<string>()
    for (const [name] of headers) {
      if (rules.removePrefixes.some((prefix) => name.startsWith(prefix))) matching.add(name)
    }
    for (const name of matching) headers.remove(name)
  }
  for (const { name, parts } of rules.set) {
    const value = render(parts, from)
    if (value !== undefined) headers.set(name, value)
  }
  for (const { name, parts } of rules.setIfAbsent) {
    if (headers.has(name)) continue
    const value = render(parts, from)
    if (value !== undefined) headers.set(name, value)
  }
  for (const { name, parts } of rules.add) {
    const value = render(parts, from)
    if (value !== undefined) headers.add(name, value)
  }
}

export default defineFilter({
  name: 'header-rewrite',
  config: Config,
  create(config) {
    const request = compile(config.request)
    const response = compile(config.response)
    // Response values may copy request headers: keep what they need from each request until its response.
    const pending = new WeakMap<object, Snapshot>()
    const noSnapshot: Snapshot = new Map()
    const hooks: FilterHooks = {}
    // Only the hooks there is work for: a hook the filter does not define is never called.
    if (!isEmpty(request) || response.sources.size > 0) {
      hooks.onRequestHeaders = (headers, stream) => {
        if (response.sources.size > 0) pending.set(stream, snapshot(headers, response.sources))
        apply(headers, request, request.sources.size > 0 ? snapshot(headers, request.sources) : noSnapshot)
      }
    }
    if (!isEmpty(response)) {
      hooks.onResponseHeaders = (headers, stream) => {
        apply(headers, response, pending.get(stream) ?? noSnapshot)
      }
    }
    return hooks
  },
})
