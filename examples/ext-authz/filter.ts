// External authorization: asks an HTTP authorization service about every request before it is
// proxied. 2xx allows it (optionally copying headers from the service's answer onto the request the
// upstream sees); 401/403 deny it with the service's status, body and chosen headers; anything else —
// another status, a timeout, a connection error — answers 503 (or lets the request through when
// failureModeAllow is set).
import { z } from 'zod'
import { defineFilter, StreamGoneError, type RequestHeaderMap } from 'nodevoy'

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/
// Request pseudo-headers the check may carry, as x-original-<name> (fetch() cannot send pseudo-headers).
const PSEUDO = new Set([':method', ':path', ':authority', ':scheme'])
// Framing and connection headers belong to each hop; the check request has its own.
const HOP = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'te', 'expect'])

function headerList(allowPseudo: boolean) {
  return z
    .array(z.string().transform((name) => name.toLowerCase()))
    .superRefine((names, ctx) => {
      names.forEach((name, i) => {
        let problem: string | undefined
        if (name.startsWith(':')) {
          if (!allowPseudo || !PSEUDO.has(name)) {
            problem = allowPseudo ? `pseudo-header ${name} cannot be forwarded (only ${[...PSEUDO].join(', ')})` : 'pseudo-headers are not allowed here'
          }
        } else if (!TOKEN.test(name)) {
          problem = `${JSON.stringify(name)} is not a valid header name`
        } else if (HOP.has(name)) {
          problem = `${name} is a per-connection header and cannot be copied`
        }
        if (problem) ctx.addIssue({ code: 'custom', path: [i], message: problem })
      })
    })
}

const Config = z
  .object({
    /** The authorization service's check endpoint; the filter sends it a GET per request. */
    url: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//i.test(u), 'must be an http:// or https:// URL'),
    /** How long a check may take, from sending it to reading the answer; then the request gets 503. */
    timeoutMs: z.number().int().min(1).max(60_000).default(1000),
    /**
     * Request headers sent with the check. Pseudo-headers go as x-original-method, x-original-path,
     * x-original-authority, x-original-scheme.
     */
    forwardHeaders: headerList(true).default(['authorization', ':method', ':path']),
    /**
     * Headers of an allowing answer set on the request the upstream sees. A client can never supply
     * them: each is removed from the request first, so only the service's values reach the upstream.
     */
    upstreamHeaders: headerList(false).default([]),
    /** Headers of a denying answer (401/403) passed to the client, besides its body and content-type. */
    clientHeaders: headerList(false).default(['www-authenticate']),
    /** When the service fails (not when it denies): let the request through instead of 503. */
    failureModeAllow: z.boolean().default(false),
    /** The most of a denial's body passed to the client. */
    maxBodyBytes: z.number().int().min(0).max(1 << 20).default(8192),
  })
  .strict()

type Outcome =
  | { kind: 'allow'; headers: Headers }
  | { kind: 'deny'; status: number; headers: Headers; body: Uint8Array }
  | { kind: 'error'; reason: string }

// Reads at most `limit` bytes of a body, then lets the rest go.
async function readCapped(res: Response, limit: number): Promise<Uint8Array> {
  if (res.body === null) return new Uint8Array(0)
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    if (size + value.length >= limit) {
      chunks.push(value.subarray(0, limit - size))
      size = limit
      await reader.cancel()
      break
    }
    chunks.push(value)
    size += value.length
  }
  return Buffer.concat(chunks, size)
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return 'timed out'
    const cause = (error as { cause?: { code?: string; message?: string } }).cause
    if (cause?.code) return `${error.message} (${cause.code})`
    if (cause?.message) return `${error.message} (${cause.message})`
    return error.message
  }
  return String(error)
}

export default defineFilter({
  name: 'ext-authz',
  config: Config,
  create(config) {
    const forward = config.forwardHeaders.map((name) => ({
      from: name,
      to: name.startsWith(':') ? `x-original-${name.slice(1)}` : name,
    }))

    // One exchange with the service: its answer's status, headers and (for a denial) body.
    async function exchange(request: Record<string, string>, signal: AbortSignal): Promise<Outcome> {
      const res = await fetch(config.url, { method: 'GET', headers: request, signal, redirect: 'manual' })
      if (res.status >= 200 && res.status < 300) {
        await readCapped(res, 0)  // nothing to keep; release the connection
        return { kind: 'allow', headers: res.headers }
      }
      if (res.status === 401 || res.status === 403) {
        return { kind: 'deny', status: res.status, headers: res.headers, body: await readCapped(res, config.maxBodyBytes) }
      }
      await readCapped(res, 0)
      return { kind: 'error', reason: `the service answered ${res.status}` }
    }

    // One deadline for the whole exchange: connecting, the answer's headers and its body. The check
    // ends at the deadline by itself, whatever fetch() does: Node 18's fetch can lose the link to its
    // abort signal after a garbage collection (undici's Request follows the signal through a WeakRef),
    // so aborting — with AbortSignal.timeout() or a controller — is only a request to stop early.
    async function check(request: Record<string, string>): Promise<Outcome> {
      const controller = new AbortController()
      let timer: NodeJS.Timeout | undefined
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const timeout = new DOMException(`no answer within ${config.timeoutMs} ms`, 'TimeoutError')
          controller.abort(timeout)
          reject(timeout)
        }, config.timeoutMs)
      })
      const answer = exchange(request, controller.signal)
      answer.catch(() => {})  // after the deadline nobody awaits it; it may still fail later
      try {
        return await Promise.race([answer, deadline])
      } catch (error) {
        return { kind: 'error', reason: describe(error) }
      } finally {
        clearTimeout(timer)
      }
    }

    function checkHeaders(headers: RequestHeaderMap): Record<string, string> {
      const out: Record<string, string> = {}
      for (const { from, to } of forward) {
        const values = headers.getAll(from)
        if (values.length > 0) out[to] = values.join(', ')
      }
      return out
    }

    return {
      async onRequestHeaders(headers, stream) {
        const outcome = await check(checkHeaders(headers))
        try {
          if (outcome.kind === 'allow') {
            for (const name of config.upstreamHeaders) {
              const value = outcome.headers.get(name)
              if (value === null) headers.remove(name)
              else headers.set(name, value)
            }
            return
          }
          if (outcome.kind === 'deny') {
            const reply: [string, string][] = []
            const type = outcome.headers.get('content-type')
            if (type !== null && outcome.body.length > 0) reply.push(['content-type', type])
            for (const name of config.clientHeaders) {
              const value = outcome.headers.get(name)
              if (value !== null) reply.push([name, value])
            }
            stream.log('debug', `denied with ${outcome.status}`)
            return stream.sendLocalReply(outcome.status, outcome.body, reply, 'ext_authz_denied')
          }
          if (config.failureModeAllow) {
            stream.log('warn', `authorization service failed (${outcome.reason}); letting the request through`)
            for (const name of config.upstreamHeaders) headers.remove(name)
            headers.set('x-ext-authz-failure-mode-allowed', 'true')
            return
          }
          stream.log('warn', `authorization service failed (${outcome.reason}); answering 503`)
          return stream.sendLocalReply(503, 'authorization service unavailable', undefined, 'ext_authz_error')
        } catch (error) {
          // The client went away while the check ran: nobody is left to answer.
          if (error instanceof StreamGoneError) return
          throw error
        }
      },
    }
  },
})
