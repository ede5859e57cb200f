import { NodevoyError } from './errors.js'
import { HeaderMapType, type NativeBinding } from './native.js'
import type { StreamLink } from './stream.js'

/**
 * An HTTP header map of one stream. Names are case-insensitive (Envoy stores them lower-cased);
 * pseudo-headers such as `:path` are ordinary names. Values are byte strings (latin1).
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
  /** Replaces every value of `name` with `value`. */
  set(name: string, value: string): void
  /** Appends a value to `name`. */
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

/** Response headers (`:status`, then the rest). */
export interface ResponseHeaderMap extends HeaderMap {
  /** The `:status` code, or `undefined`. */
  readonly status: number | undefined
}

const INVALID = /[\0\r\n]/

function checkName(name: string): string {
  if (typeof name !== 'string' || name.length === 0 || INVALID.test(name)) {
    throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', `invalid header name ${JSON.stringify(name)}`)
  }
  return name.toLowerCase()
}

function checkValue(name: string, value: string): string {
  if (typeof value !== 'string' || INVALID.test(value)) {
    throw new NodevoyError(
      'NODEVOY_ERR_INVALID_ARGUMENT',
      `invalid value for header ${JSON.stringify(name)}: must be a string without NUL, CR or LF`,
    )
  }
  return value
}

export class HeaderMapImpl implements HeaderMap {
  #binding: NativeBinding
  #link: StreamLink
  #type: HeaderMapType
  /** [name, value, name, value, ...] once read. */
  #parts: string[] | undefined

  constructor(binding: NativeBinding, link: StreamLink, type: HeaderMapType) {
    this.#binding = binding
    this.#link = link
    this.#type = type
  }

  #load(): string[] {
    this.#link.check()
    if (this.#parts === undefined) {
      const joined = this.#binding.getHeaders(this.#link.token, this.#type)
      this.#parts = joined === '' ? [] : joined.split('\0')
    }
    return this.#parts
  }

  get(name: string): string | undefined {
    const key = String(name).toLowerCase()  // reads need no validation: an invalid name matches nothing
    const parts = this.#load()
    for (let i = 0; i < parts.length; i += 2) if (parts[i] === key) return parts[i + 1]
    return undefined
  }

  getAll(name: string): string[] {
    const key = String(name).toLowerCase()
    const parts = this.#load()
    const out: string[] = []
    for (let i = 0; i < parts.length; i += 2) if (parts[i] === key) out.push(parts[i + 1]!)
    return out
  }

  has(name: string): boolean {
    return this.get(name) !== undefined
  }

  set(name: string, value: string): void {
    const key = checkName(name)
    checkValue(key, value)
    this.#link.check()
    this.#binding.setHeader(this.#link.token, this.#type, key, value)
    if (this.#parts !== undefined) {
      this.#drop(key)
      this.#parts.push(key, value)
    }
  }

  add(name: string, value: string): void {
    const key = checkName(name)
    checkValue(key, value)
    this.#link.check()
    this.#binding.addHeader(this.#link.token, this.#type, key, value)
    this.#parts?.push(key, value)
  }

  remove(name: string): void {
    const key = checkName(name)
    this.#link.check()
    this.#binding.setHeader(this.#link.token, this.#type, key, null)
    if (this.#parts !== undefined) this.#drop(key)
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

export class RequestHeaderMapImpl extends HeaderMapImpl implements RequestHeaderMap {
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
  get status(): number | undefined {
    const value = this.get(':status')
    return value === undefined ? undefined : Number(value)
  }
}
