import { NodevoyError, StreamGoneError } from './errors.js'
import type { NativeBinding } from './internal/binding.js'
import { BodyMode, BodyPart, BodyReadState, BodyWrite, type Direction } from './internal/contract.js'
import type { StreamLink } from './internal/link.js'

/** Body bytes to write: text (encoded as UTF-8) or bytes. */
export type BodyData = string | Uint8Array

/**
 * A request's or a response's body (`stream.request.body`, `stream.response.body`). Nothing is
 * copied from Envoy unless the filter reads it: a filter that never touches a body costs nothing.
 *
 * Whole-body reads (`bytes()`, `text()`, `json()`) hold the body in Envoy until its end arrives
 * (Envoy's buffer limit applies: a larger body is answered 413, or 500 for a response), then resolve.
 * To inspect or change a body before it goes on, await it in a hook that holds the direction (an
 * async `onRequestHeaders` / `onResponseHeaders`): the headers then wait too, so `replace()` can
 * change the body's length and content-length follows. Streaming reads (`for await`) see the body
 * in chunks as it passes, with backpressure: while the loop body runs, the direction waits.
 */
export interface Body {
  /** The whole body (waits for its end). Each call returns a fresh copy. */
  bytes(): Promise<Uint8Array>
  /** The whole body decoded as UTF-8. */
  text(): Promise<string>
  /** The whole body parsed as JSON (rejects with a SyntaxError on invalid JSON). */
  json(): Promise<unknown>
  /**
   * Replaces the whole body. Only while the whole body is held (after a whole-body read, from the
   * hook that holds the direction); content-length follows while the headers are held too.
   */
  replace(data: BodyData): void
  /** Appends to the whole held body (as {@link Body.replace}). */
  append(data: BodyData): void
  /** Prepends to the whole held body (as {@link Body.replace}). */
  prepend(data: BodyData): void
  /** The body in chunks as they pass on (copies), with backpressure. */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array>
}

/**
 * The piece of a body a body hook (`onRequestBody` / `onResponseBody`) is called with: the frame
 * that arrived, or — when the direction was held meanwhile — everything that arrived since the
 * last call. Readable and changeable during the hook's synchronous part (copy it with `bytes()`
 * to keep it past an `await`).
 */
export interface BodyChunk {
  /** A copy of the chunk's bytes. */
  bytes(): Uint8Array
  /** The chunk decoded as UTF-8 (a multi-byte character may be split across chunks). */
  text(): string
  /** Replaces the chunk's bytes. Changing the length needs the headers held or without content-length. */
  replace(data: BodyData): void
  /** Appends bytes after the chunk. */
  append(data: BodyData): void
  /** Inserts bytes before the chunk. */
  prepend(data: BodyData): void
}

const utf8 = new TextDecoder('utf-8')

/** A streaming reader's queue: chunks the consumer has not taken, and the hold it keeps meanwhile. */
class BodyReader implements AsyncIterator<Uint8Array> {
  #queue: Uint8Array[] = []
  #ended = false
  #error: unknown
  #waiting: { resolve(result: IteratorResult<Uint8Array>): void; reject(error: unknown): void } | undefined
  #release: (() => void) | undefined
  readonly #stop: () => void

  constructor(stop: () => void) {
    this.#stop = stop
  }

  /** A chunk arrived; returns a promise that holds the direction while the consumer is behind. */
  push(chunk: Uint8Array, end: boolean): Promise<void> | undefined {
    if (chunk.length > 0) this.#queue.push(chunk)
    if (end) this.#ended = true
    this.#wake()
    if (this.#queue.length === 0) return undefined
    return new Promise<void>((resolve) => {
      this.#release = resolve
    })
  }

  /** The stream ended without the body's end (reset, or a local reply). */
  fail(error: unknown): void {
    this.#ended = true
    this.#error = error
    this.#queue.length = 0
    this.#wake()
    this.#releaseHold()
  }

  #wake(): void {
    const waiting = this.#waiting
    if (!waiting) return
    if (this.#queue.length > 0) {
      this.#waiting = undefined
      waiting.resolve({ value: this.#queue.shift()!, done: false })
      if (this.#queue.length === 0) this.#releaseHold()
    } else if (this.#ended) {
      this.#waiting = undefined
      if (this.#error !== undefined) waiting.reject(this.#error)
      else waiting.resolve({ value: undefined, done: true })
    }
  }

  #releaseHold(): void {
    const release = this.#release
    this.#release = undefined
    release?.()
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#queue.length > 0) {
      const value = this.#queue.shift()!
      if (this.#queue.length === 0) this.#releaseHold()  // caught up: let the next frames come
      return Promise.resolve({ value, done: false })
    }
    if (this.#ended) {
      return this.#error !== undefined ? Promise.reject(this.#error) : Promise.resolve({ value: undefined, done: true })
    }
    this.#releaseHold()
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject }
    })
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    this.#queue.length = 0
    this.#ended = true
    this.#releaseHold()
    this.#stop()
    return Promise.resolve({ value: undefined, done: true })
  }
}

function stateError(message: string): NodevoyError {
  return new NodevoyError('NODEVOY_ERR_INVALID_STATE', message)
}

/** One direction's body of one stream. */
export class BodyImpl implements Body {
  readonly #binding: NativeBinding
  readonly #link: StreamLink
  readonly #direction: Direction
  readonly #watchComplete: () => void
  #whole: Promise<Uint8Array> | undefined
  #settle: { resolve(bytes: Uint8Array): void; reject(error: unknown): void } | undefined
  #reader: BodyReader | undefined

  constructor(binding: NativeBinding, link: StreamLink, direction: Direction, watchComplete: () => void) {
    this.#binding = binding
    this.#link = link
    this.#direction = direction
    this.#watchComplete = watchComplete
  }

  #wholeRead(): Promise<Uint8Array> {
    if (this.#whole) return this.#whole
    this.#link.check()
    const state = this.#binding.bodyMode(this.#link.token, this.#direction, BodyMode.Buffer)
    if (state === BodyReadState.TooLate) {
      this.#whole = Promise.reject(
        stateError(
          `the ${this.#name()} body already went on to later filters: read it whole from a hook that holds it (await stream.${this.#name()}.body.bytes() in ${this.#headersHook()})`,
        ),
      )
      return this.#whole
    }
    if (state === BodyReadState.Complete) {
      this.#whole = Promise.resolve(this.#binding.readBody(this.#link.token, this.#direction, BodyPart.Whole))
      return this.#whole
    }
    this.#watchComplete()
    this.#whole = new Promise<Uint8Array>((resolve, reject) => {
      this.#settle = { resolve, reject }
    })
    return this.#whole
  }

  #name(): 'request' | 'response' {
    return this.#direction === 1 ? 'request' : 'response'
  }

  #headersHook(): string {
    return this.#direction === 1 ? 'onRequestHeaders' : 'onResponseHeaders'
  }

  async bytes(): Promise<Uint8Array> {
    return (await this.#wholeRead()).slice()
  }

  async text(): Promise<string> {
    return utf8.decode(await this.#wholeRead())
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text()) as unknown
  }

  #write(write: BodyWrite, data: BodyData): void {
    this.#link.check()
    this.#binding.writeBody(this.#link.token, this.#direction, BodyPart.Whole, write, data)
    // Later reads see the change.
    this.#whole = Promise.resolve(this.#binding.readBody(this.#link.token, this.#direction, BodyPart.Whole))
    this.#whole.catch(() => {})
  }

  replace(data: BodyData): void {
    this.#write(BodyWrite.Replace, data)
  }

  append(data: BodyData): void {
    this.#write(BodyWrite.Append, data)
  }

  prepend(data: BodyData): void {
    this.#write(BodyWrite.Prepend, data)
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    this.#link.check()
    if (this.#reader) throw stateError(`the ${this.#name()} body already has a streaming reader`)
    const state = this.#binding.bodyMode(this.#link.token, this.#direction, BodyMode.Stream)
    this.#watchComplete()
    const reader = new BodyReader(() => {
      if (this.#link.alive) this.#binding.bodyMode(this.#link.token, this.#direction, BodyMode.None)
    })
    this.#reader = reader
    if (state === BodyReadState.Complete) reader.push(new Uint8Array(0), true)
    return reader
  }

  // ---- From the dispatcher ----

  /** A body frame (or catch-up chunk) for a streaming reader; the hold it needs, if any. */
  feed(end: boolean): Promise<void> | undefined {
    const reader = this.#reader
    if (!reader) return undefined
    return reader.push(this.#binding.readBody(this.#link.token, this.#direction, BodyPart.Chunk), end)
  }

  get streaming(): boolean {
    return this.#reader !== undefined
  }

  /** The BodyEnd event: the whole body is held; the pending read resolves. */
  end(): void {
    const settle = this.#settle
    if (!settle) return
    this.#settle = undefined
    try {
      settle.resolve(this.#binding.readBody(this.#link.token, this.#direction, BodyPart.Whole))
    } catch (error) {
      settle.reject(error)
    }
  }

  /** The stream is complete: reads still waiting will never finish. */
  complete(): void {
    // Most streams end with nothing waiting: no error built then (capturing its stack costs more
    // than the rest of a small stream's JS).
    if (!this.#settle && !this.#reader) return
    const error = new StreamGoneError(
      `the stream ended before its ${this.#name()} body did (a reset, or a body over Envoy's buffer limit)`,
    )
    this.#settle?.reject(error)
    this.#settle = undefined
    this.#reader?.fail(error)
  }
}

/** The chunk given to one call of a body hook. */
export class BodyChunkImpl implements BodyChunk {
  readonly #binding: NativeBinding
  readonly #link: StreamLink
  readonly #direction: Direction

  constructor(binding: NativeBinding, link: StreamLink, direction: Direction) {
    this.#binding = binding
    this.#link = link
    this.#direction = direction
  }

  bytes(): Uint8Array {
    this.#link.check()
    return this.#binding.readBody(this.#link.token, this.#direction, BodyPart.Chunk)
  }

  text(): string {
    return utf8.decode(this.bytes())
  }

  #write(write: BodyWrite, data: BodyData): void {
    this.#link.check()
    this.#binding.writeBody(this.#link.token, this.#direction, BodyPart.Chunk, write, data)
  }

  replace(data: BodyData): void {
    this.#write(BodyWrite.Replace, data)
  }

  append(data: BodyData): void {
    this.#write(BodyWrite.Append, data)
  }

  prepend(data: BodyData): void {
    this.#write(BodyWrite.Prepend, data)
  }
}
