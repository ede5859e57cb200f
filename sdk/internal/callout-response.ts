// A callout's response: fetch's Response surface (status, ok, headers, body, text/json/bytes), made
// without undici. Node loads its fetch classes lazily, and their first use costs well over 100 ms
// of CPU — inside a hook, past the sandbox's CPU budget. The body is a queue of the chunks Envoy
// delivered; a ReadableStream is made only when `body` is read.
import type { CalloutResponse, ResponseHeaders } from '../fetch.js'

/** Response headers (and trailers): names lower-cased, several values per name, fetch's get(). */
export class CalloutHeaders implements ResponseHeaders {
  readonly #entries: [string, string][] = []

  /** From libnodevoy's "k\0v\0k\0v" form. */
  static fromJoined(joined: string): CalloutHeaders {
    const headers = new CalloutHeaders()
    if (joined === '') return headers
    const parts = joined.split('\0')
    for (let i = 0; i + 1 < parts.length; i += 2) headers.#entries.push([parts[i]!.toLowerCase(), parts[i + 1]!])
    return headers
  }

  get(name: string): string | null {
    const key = name.toLowerCase()
    const values = this.#entries.filter(([k]) => k === key).map(([, v]) => v)
    return values.length === 0 ? null : values.join(', ')
  }

  getSetCookie(): string[] {
    return this.#entries.filter(([k]) => k === 'set-cookie').map(([, v]) => v)
  }

  has(name: string): boolean {
    const key = name.toLowerCase()
    return this.#entries.some(([k]) => k === key)
  }

  forEach(callback: (value: string, name: string, headers: ResponseHeaders) => void): void {
    for (const [name, value] of this.#entries) callback(value, name, this)
  }

  *entries(): IterableIterator<[string, string]> {
    for (const [name, value] of this.#entries) yield [name, value]
  }

  *keys(): IterableIterator<string> {
    for (const [name] of this.#entries) yield name
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.#entries) yield value
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries()
  }
}

const utf8 = new TextDecoder('utf-8')

/** The body chunks as they arrive, and whoever waits for more. */
class BodyQueue {
  chunks: Uint8Array[] = []
  ended = false
  error: unknown
  #wake: (() => void) | undefined

  push(bytes: Uint8Array): void {
    if (bytes.length > 0) this.chunks.push(bytes)
    this.#notify()
  }

  end(): void {
    this.ended = true
    this.#notify()
  }

  fail(error: unknown): void {
    if (this.ended) return
    this.error = error
    this.ended = true
    this.#notify()
  }

  /** Resolves when something changed (a chunk, the end, a failure). */
  changed(): Promise<void> {
    return new Promise<void>((resolve) => (this.#wake = resolve))
  }

  #notify(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }
}

export class CalloutResponseImpl implements CalloutResponse {
  readonly status: number
  readonly headers: CalloutHeaders
  readonly trailers: Promise<CalloutHeaders>
  readonly #queue: BodyQueue | undefined
  #used = false
  #stream: ReadableStream<Uint8Array> | null | undefined

  /** queue: undefined for a response without a body (204, 304, HEAD, headers with end of stream). */
  constructor(status: number, headers: CalloutHeaders, trailers: Promise<CalloutHeaders>, queue: BodyQueue | undefined) {
    this.status = status
    this.headers = headers
    this.trailers = trailers
    this.#queue = queue
  }

  static queue(): BodyQueue {
    return new BodyQueue()
  }

  get ok(): boolean {
    return this.status >= 200 && this.status <= 299
  }

  get bodyUsed(): boolean {
    return this.#used
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#stream !== undefined) return this.#stream
    const queue = this.#queue
    if (!queue) return (this.#stream = null)
    this.#used = true
    this.#stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        for (;;) {
          const next = queue.chunks.shift()
          if (next) {
            controller.enqueue(next)
            return
          }
          if (queue.ended) {
            if (queue.error !== undefined) controller.error(queue.error)
            else controller.close()
            return
          }
          await queue.changed()
        }
      },
    })
    return this.#stream
  }

  async bytes(): Promise<Uint8Array> {
    if (this.#used) throw new TypeError('the response body was already read')
    this.#used = true
    const queue = this.#queue
    if (!queue) return new Uint8Array(0)
    while (!queue.ended) await queue.changed()
    if (queue.error !== undefined) throw queue.error
    const total = queue.chunks.reduce((n, c) => n + c.length, 0)
    const out = new Uint8Array(total)
    let offset = 0
    for (const chunk of queue.chunks) {
      out.set(chunk, offset)
      offset += chunk.length
    }
    queue.chunks = []
    return out
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.bytes()
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
  }

  async text(): Promise<string> {
    return utf8.decode(await this.bytes())
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text())
  }
}

export type { BodyQueue }
