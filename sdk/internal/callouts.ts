// The SDK side of callouts (sdk/fetch.ts): starts them through the binding, and turns the events
// libnodevoy queues (callout headers, body chunks, trailers, completion, failure) into a Response
// whose body is a ReadableStream. Every callout ends with its stream: the stream's AbortSignal
// aborts it, and its caller's signal can too.
import { CalloutError, NodevoyError } from '../errors.js'
import type { CalloutBody, CalloutHeaders, CalloutInit, CalloutResponse } from '../fetch.js'
import type { NativeBinding, StreamToken } from './binding.js'
import { CalloutHeaders as ResponseHeaderList, CalloutResponseImpl, type BodyQueue } from './callout-response.js'
import { CalloutEventType } from './contract.js'
import type { StreamLink } from './link.js'

/** One callout in flight. */
interface Pending {
  settleHeaders(status: number, headers: string, endOfStream: boolean): void
  data(bytes: Uint8Array, endOfStream: boolean): void
  trailers(trailers: string): void
  complete(): void
  fail(reason: string): void
}

/** The callouts of one stream, by id. */
export class StreamCallouts {
  readonly #pending = new Map<number, Pending>()

  get size(): number {
    return this.#pending.size
  }

  add(id: number, pending: Pending): void {
    this.#pending.set(id, pending)
  }

  remove(id: number): void {
    this.#pending.delete(id)
  }

  /** Takes the stream's queued events and hands each to its callout. */
  drain(binding: NativeBinding, link: StreamLink): void {
    if (!link.alive) return
    const events = binding.calloutEvents(link.token)
    for (let i = 0; i < events.length; ) {
      const id = events[i++] as number
      const type = events[i++] as CalloutEventType
      const pending = this.#pending.get(id)
      switch (type) {
        case CalloutEventType.Headers: {
          const status = events[i++] as number
          const headers = events[i++] as string
          const end = events[i++] as boolean
          pending?.settleHeaders(status, headers, end)
          break
        }
        case CalloutEventType.Data: {
          const bytes = events[i++] as Uint8Array
          const end = events[i++] as boolean
          pending?.data(bytes, end)
          break
        }
        case CalloutEventType.Trailers:
          pending?.trailers(events[i++] as string)
          break
        case CalloutEventType.Complete:
          if (pending) {
            this.#pending.delete(id)
            pending.complete()
          }
          break
        case CalloutEventType.Failed: {
          const reason = events[i++] as string
          if (pending) {
            this.#pending.delete(id)
            pending.fail(reason)
          }
          break
        }
        default:
          return
      }
    }
  }
}

function headerPairs(headers: CalloutHeaders | undefined, what: string): [string, string][] {
  if (headers === undefined || headers === null) return []
  if (typeof headers !== 'object') throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', `fetch: ${what} must be an object, a Headers or [name, value] pairs`)
  const pairs: [string, string][] = []
  const iterable: Iterable<readonly [string, string]> =
    typeof (headers as Headers).forEach === 'function' && typeof (headers as Headers).entries === 'function'
      ? [...(headers as Headers).entries()]
      : Symbol.iterator in headers
        ? (headers as Iterable<readonly [string, string]>)
        : Object.entries(headers as Record<string, string>)
  for (const pair of iterable) {
    if (!Array.isArray(pair) || pair.length !== 2) throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', `fetch: each of the ${what} must be a [name, value] pair`)
    pairs.push([String(pair[0]).toLowerCase(), pair[1]])
  }
  return pairs
}

function isStreamingBody(body: unknown): body is ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string> {
  return (
    body !== null &&
    typeof body === 'object' &&
    (typeof (body as ReadableStream).getReader === 'function' || typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function')
  )
}

function fixedBody(body: CalloutBody | null | undefined): string | Uint8Array | null {
  if (body === undefined || body === null) return null
  if (typeof body === 'string' || body instanceof Uint8Array) return body
  if (body instanceof ArrayBuffer) return new Uint8Array(body)
  throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', 'fetch: the body must be a string, bytes, a ReadableStream or an async iterable')
}

async function* chunksOf(body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string>): AsyncGenerator<Uint8Array | string> {
  if (typeof (body as ReadableStream).getReader === 'function') {
    const reader = (body as ReadableStream<Uint8Array>).getReader()
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return
        yield value
      }
    } finally {
      reader.releaseLock()
    }
  }
  yield* body as AsyncIterable<Uint8Array | string>
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('the callout was aborted', 'AbortError')
}

/** What a stream offers a callout: its link, its callouts, its end signal. */
export interface CalloutOwner {
  link: StreamLink
  callouts: StreamCallouts
  signal: AbortSignal
}

/** stream.fetch(cluster, input, init): starts a callout and resolves with its response. */
export function startCallout(binding: NativeBinding, owner: CalloutOwner, cluster: string, input: string | URL, init: CalloutInit = {}): Promise<CalloutResponse> {
  const { link, callouts } = owner
  link.check()
  if (typeof cluster !== 'string' || cluster === '') {
    throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', 'fetch: the first argument is the name of an Envoy cluster')
  }
  if (init === null || typeof init !== 'object') throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', 'fetch: init must be an object')
  // The path (and an authority when a full URL is given).
  let path: string
  let authority: string | undefined
  let scheme: string | undefined
  const text = String(input)
  if (text.startsWith('/')) {
    path = text
  } else {
    let url: URL
    try {
      url = new URL(text)
    } catch {
      throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', `fetch: ${JSON.stringify(text)} is neither a path starting with '/' nor an absolute URL`)
    }
    path = url.pathname + url.search
    authority = url.host
    scheme = url.protocol.replace(/:$/, '')
  }
  const streaming = isStreamingBody(init.body)
  const buffered = init.buffered === true
  if (buffered && (streaming || init.trailers !== undefined)) {
    throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', 'fetch: a buffered (one-shot) callout takes a string or bytes body and no trailers')
  }
  const body = streaming ? null : fixedBody(init.body as CalloutBody | null | undefined)
  const method = init.method ?? (body !== null || streaming ? 'POST' : 'GET')
  const given = headerPairs(init.headers, 'headers')
  const hostHeader = given.find(([name]) => name === 'host' || name === ':authority')
  const flat: string[] = [':method', method, ':path', path]
  if (!hostHeader) flat.push(':authority', authority ?? cluster)
  if (scheme && !given.some(([name]) => name === ':scheme')) flat.push(':scheme', scheme)
  for (const [name, value] of given) flat.push(name === 'host' ? ':authority' : name, value)
  const trailers = init.trailers === undefined ? undefined : headerPairs(init.trailers, 'trailers').flat()
  const timeoutMs = init.timeoutMs ?? 0
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', 'fetch: timeoutMs must be a number of milliseconds >= 0')
  }
  const signals = [owner.signal, ...(init.signal ? [init.signal] : [])]
  for (const signal of signals) if (signal.aborted) return Promise.reject(abortReason(signal))

  return new Promise<CalloutResponse>((resolve, reject) => {
    let settled = false
    let queue: BodyQueue | undefined
    let resolveTrailers!: (headers: ResponseHeaderList) => void
    const trailersPromise = new Promise<ResponseHeaderList>((r) => (resolveTrailers = r))
    let id = -1
    let finished = false
    const cleanup = (): void => {
      finished = true
      for (const signal of signals) signal.removeEventListener('abort', onAbort)
      if (id >= 0) callouts.remove(id)
    }
    const fail = (error: unknown): void => {
      if (finished) return
      cleanup()
      resolveTrailers(new ResponseHeaderList())
      if (!settled) {
        settled = true
        reject(error)
      } else {
        queue?.fail(error)
      }
    }
    function onAbort(this: AbortSignal): void {
      const reason = abortReason(this)
      if (id >= 0 && link.alive) {
        try {
          // Stream end: Envoy cancels the callout itself; an abort by the caller resets it now.
          binding.calloutReset(link.token, id, this !== owner.signal && !buffered)
          callouts.drain(binding, link)
        } catch {
          // the stream is going: nothing more to tell Envoy
        }
      }
      fail(reason)
    }
    const pending: Pending = {
      settleHeaders(status, headers, endOfStream) {
        if (settled) return
        settled = true
        const bodiless = status === 204 || status === 304 || method === 'HEAD' || endOfStream
        queue = bodiless ? undefined : CalloutResponseImpl.queue()
        resolve(new CalloutResponseImpl(status, ResponseHeaderList.fromJoined(headers), trailersPromise, queue))
      },
      data(bytes, endOfStream) {
        if (!queue) return
        queue.push(bytes)
        if (endOfStream) queue.end()
      },
      trailers(joined) {
        resolveTrailers(ResponseHeaderList.fromJoined(joined))
        queue?.end()
      },
      complete() {
        if (finished) return
        cleanup()
        resolveTrailers(new ResponseHeaderList())
        queue?.end()
        if (!settled) {
          settled = true
          reject(new CalloutError('no_response', `fetch(${cluster}): the callout completed without a response`))
        }
      },
      fail(reason) {
        fail(new CalloutError(reason, `fetch(${cluster}): the callout failed (${reason})`))
      },
    }
    try {
      id = binding.calloutStart(link.token, cluster, flat, body, !streaming && trailers === undefined, timeoutMs, buffered)
    } catch (error) {
      finished = true
      reject(error)
      return
    }
    callouts.add(id, pending)
    for (const signal of signals) signal.addEventListener('abort', onAbort, { once: true })
    callouts.drain(binding, link)  // events Envoy delivered inside the call
    if (finished) return
    if (!streaming && trailers === undefined) return
    // A streamed request body (or trailers after a fixed one): sent as it is produced.
    const send = async (): Promise<void> => {
      if (streaming) {
        for await (const chunk of chunksOf(init.body as ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string>)) {
          if (finished) return
          binding.calloutSend(link.token, id, chunk, false)
        }
      }
      if (finished) return
      if (trailers !== undefined) {
        binding.calloutTrailers(link.token, id, trailers)
      } else {
        binding.calloutSend(link.token, id, '', true)
      }
      callouts.drain(binding, link)
    }
    send().catch((error: unknown) => {
      if (finished) return
      try {
        if (link.alive) {
          binding.calloutReset(link.token, id, true)
          callouts.drain(binding, link)
        }
      } catch {
        // as in onAbort
      }
      fail(error)
    })
  })
}

/** The stream token type, re-exported for the dispatcher. */
export type { StreamToken }
