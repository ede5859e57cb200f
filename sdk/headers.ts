import type { NativeBinding } from './internal/binding.js'
import { HeaderMapSeparator, type HeaderMapType } from './internal/contract.js'
import type { StreamLink } from './internal/link.js'

/**
 * An HTTP header map of one stream. Names are case-insensitive (Envoy stores them lower-cased);
 * pseudo-headers such as `:path` are ordinary names.
 *
 * Names and values are byte strings, with the Fetch standard's rules: a name is an RFC 9110 token
 * (letters, digits and ``!#$%&'*+-.^_`|~``), a value has no NUL, CR or LF, and every character is a
 * byte (U+0000–U+00FF). A write that breaks a rule throws a `NodevoyError` with code
 * `NODEVOY_ERR_INVALID_ARGUMENT` naming the header; nothing is ever converted silently. Reads give
 * each byte as one character (latin1), so a UTF-8 value reads as `Buffer.from(v, 'latin1').toString('utf8')`
 * and is written as `Buffer.from(text, 'utf8').toString('latin1')`. Pseudo-headers exist only where
 * Envoy has them (`:method`, `:path`, `:authority`, `:scheme`, `:protocol` in request headers,
 * `:status` in response headers), can be changed with `set` but not added or removed, and their values
 * must fit their syntax (`:status` three digits 100–999, `:method` a token, `:path` visible ASCII
 * starting with `/`). Envoy cannot store an empty value through its module ABI: use `remove`.
 *
 * The first read copies every header of the map from Envoy in one crossing and caches them; later
 * reads use the cache. Writes reach Envoy at once and keep the cache true. Every call throws
 * {@link StreamGoneError} once the stream has ended.
 */
export interface HeaderMap extends Iterable<[name: string, value: string]> {
  /** The first value of `name`, or `undefined`. */
  get(name: string): string | undefined
  /** Every value of `name`, in order (empty when absent). */
  getAll(name: string): string[]
  /** Whether `name` has at least one value. */
  has(name: string): boolean
  /** Replaces every value of `name` with `value`. Throws on a name or value the rules above refuse. */
  set(name: string, value: string): void
  /** Appends a value to `name`. Throws on a name or value the rules above refuse. */
  add(name: string, value: string): void
  /** Removes every value of `name`. */
  remove(name: string): void
  /** Number of entries (a name with two values counts twice). */
  readonly size: number
  /** Entries as `[name, value]`, in Envoy's order (pseudo-headers first). */
  entries(): IterableIterator<[name: string, value: string]>
}

/** Request headers (`:method`, `:path`, `:authority`, `:scheme`, then the rest). */
export interface RequestHeaderMap extends HeaderMap {
  /** `:method`, e.g. `GET`. */
  readonly method: string | undefined
  /** `:path`, with the query string, e.g. `/items?id=1`. */
  readonly path: string | undefined
  /** `:authority` (HTTP/1.1's Host). */
  readonly authority: string | undefined
  /** `:scheme`, `http` or `https`. */
  readonly scheme: string | undefined
}

/** Trailers (request or response): a header map without pseudo-headers. */
export type TrailerMap = HeaderMap

/** Response headers (`:status`, then the rest). */
export interface ResponseHeaderMap extends HeaderMap {
  /** The `:status` code, or `undefined`. */
  readonly status: number | undefined
}

/** ASCII lower-casing: header names are ASCII tokens; `toLowerCase()` would map e.g. U+212A to `k`. */
export function lowerAscii(name: string): string {
  // A loop over char codes: the common case (already lower-case) allocates nothing and runs no regex.
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i)
    if (c >= 65 && c <= 90) return name.replace(/[A-Z]+/g, (upper) => upper.toLowerCase())
  }
  return name
}

/** Separators of the map string libnodevoy returns: "\0name\x01value" per entry (names are tokens, values have no NUL). */
const ENTRY = String.fromCharCode(HeaderMapSeparator.Entry)
const VALUE = String.fromCharCode(HeaderMapSeparator.Value)

/**
 * "\0name\x01" for each name looked up, kept: a concatenation made anew for every read is a new
 * string V8 copies flat before it can search with it; null for a name that holds a separator (it
 * matches nothing, and searching for it could match across entries). A filter reads few names; past
 * the limit (names made from input) the pattern is made each time instead.
 */
const PATTERNS = new Map<string, string | null>()
const MAX_PATTERNS = 256
function searchPattern(key: string): string | null {
  let pattern = PATTERNS.get(key)
  if (pattern === undefined) {
    pattern = key.indexOf(ENTRY) < 0 && key.indexOf(VALUE) < 0 ? ENTRY + key + VALUE : null
    if (PATTERNS.size < MAX_PATTERNS) PATTERNS.set(key, pattern)
  }
  return pattern
}

export class HeaderMapImpl implements HeaderMap {
  #binding: NativeBinding
  #link: StreamLink
  #type: HeaderMapType
  /**
   * The map as libnodevoy returned it, until the first write or listing: reads search it (no
   * per-header strings are made for headers nobody asks for).
   */
  #joined: string | undefined
  /** [name, value, name, value, ...] once listed or written. */
  #parts: string[] | undefined

  constructor(binding: NativeBinding, link: StreamLink, type: HeaderMapType) {
    this.#binding = binding
    this.#link = link
    this.#type = type
  }

  #loadJoined(): string | undefined {
    this.#link.check()
    if (this.#parts !== undefined) return undefined
    return (this.#joined ??= this.#binding.getHeaders(this.#link.token, this.#type))
  }

  #load(): string[] {
    const joined = this.#loadJoined()
    if (this.#parts === undefined) {
      const parts: string[] = []
      // Entries start with ENTRY; the name ends at the first VALUE (a value may hold VALUE bytes).
      for (let start = 0; start < joined!.length; ) {
        let end = joined!.indexOf(ENTRY, start + 1)
        if (end < 0) end = joined!.length
        const split = joined!.indexOf(VALUE, start + 1)
        parts.push(joined!.slice(start + 1, split), joined!.slice(split + 1, end))
        start = end
      }
      this.#parts = parts
      this.#joined = undefined
    }
    return this.#parts
  }

  /** The first value of key in the joined map, or undefined. */
  static #search(joined: string, key: string): string | undefined {
    const pattern = searchPattern(key)
    if (pattern === null) return undefined
    const at = joined.indexOf(pattern)
    if (at < 0) return undefined
    const start = at + key.length + 2
    const end = joined.indexOf(ENTRY, start)
    return end < 0 ? joined.slice(start) : joined.slice(start, end)
  }

  get(name: string): string | undefined {
    const key = lowerAscii(String(name))  // reads need no validation: an invalid name matches nothing
    const joined = this.#loadJoined()
    if (joined !== undefined) return HeaderMapImpl.#search(joined, key)
    const parts = this.#parts!
    for (let i = 0; i < parts.length; i += 2) if (parts[i] === key) return parts[i + 1]
    return undefined
  }

  getAll(name: string): string[] {
    const key = lowerAscii(String(name))
    const parts = this.#load()
    const out: string[] = []
    for (let i = 0; i < parts.length; i += 2) if (parts[i] === key) out.push(parts[i + 1]!)
    return out
  }

  has(name: string): boolean {
    return this.get(name) !== undefined
  }

  // Writes: libnodevoy checks the name and value where it makes their bytes (a token name, a value
  // without NUL/CR/LF, no code unit above U+00FF) and throws NODEVOY_ERR_INVALID_ARGUMENT; the cache
  // changes only after Envoy took the write. A map never read is not read for a write.
  set(name: string, value: string): void {
    this.#link.check()
    this.#binding.setHeader(this.#link.token, this.#type, name, value)
    if (this.#joined !== undefined) this.#load()
    if (this.#parts !== undefined) {
      const key = lowerAscii(name)
      this.#drop(key)
      this.#parts.push(key, value)
    }
  }

  add(name: string, value: string): void {
    this.#link.check()
    this.#binding.addHeader(this.#link.token, this.#type, name, value)
    if (this.#joined !== undefined) this.#load()
    this.#parts?.push(lowerAscii(name), value)
  }

  remove(name: string): void {
    this.#link.check()
    this.#binding.setHeader(this.#link.token, this.#type, name, null)
    if (this.#joined !== undefined) this.#load()
    if (this.#parts !== undefined) this.#drop(lowerAscii(name))
  }

  #drop(key: string): void {
    const parts = this.#parts!
    let w = 0
    for (let r = 0; r < parts.length; r += 2) {
      if (parts[r] === key) continue
      parts[w++] = parts[r]!
      parts[w++] = parts[r + 1]!
    }
    parts.length = w
  }

  get size(): number {
    return this.#load().length / 2
  }

  *entries(): IterableIterator<[string, string]> {
    const parts = this.#load().slice()
    for (let i = 0; i < parts.length; i += 2) yield [parts[i]!, parts[i + 1]!]
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries()
  }
}

// Explicit constructors: a derived class's implicit one forwards `...args`, which V8 (Node 18) does
// not inline, and a header map is made on most streams.
export class RequestHeaderMapImpl extends HeaderMapImpl implements RequestHeaderMap {
  constructor(binding: NativeBinding, link: StreamLink, type: HeaderMapType) {
    super(binding, link, type)
  }
  get method(): string | undefined {
    return this.get(':method')
  }
  get path(): string | undefined {
    return this.get(':path')
  }
  get authority(): string | undefined {
    return this.get(':authority')
  }
  get scheme(): string | undefined {
    return this.get(':scheme')
  }
}

export class ResponseHeaderMapImpl extends HeaderMapImpl implements ResponseHeaderMap {
  constructor(binding: NativeBinding, link: StreamLink, type: HeaderMapType) {
    super(binding, link, type)
  }
  get status(): number | undefined {
    const value = this.get(':status')
    return value === undefined ? undefined : Number(value)
  }
}
