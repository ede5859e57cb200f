// JSON request validation: requests with a body on the configured paths must carry JSON whose
// fields have the configured types; anything else is answered 400 (or 413, 415) with an RFC 9457
// problem document, before the upstream sees a byte. Valid requests go on, optionally with the body
// normalised (re-serialised without the fields the schema does not name).
import { z } from 'zod'
import { defineFilter, type RequestHeaderMap, type Stream } from 'nodevoy'

const FieldType = z.enum(['string', 'number', 'boolean', 'object', 'array'])

const Config = z.object({
  /** Path prefixes whose requests are validated (default: every path). */
  paths: z.array(z.string().startsWith('/')).default(['/']),
  /** Methods whose bodies are validated. */
  methods: z.array(z.string().regex(/^[A-Z]+$/)).default(['POST', 'PUT', 'PATCH']),
  /** Required fields and their JSON types. */
  required: z.record(z.string(), FieldType).default({}),
  /** Optional fields and their JSON types. */
  optional: z.record(z.string(), FieldType).default({}),
  /** Largest body accepted, in bytes (a larger one gets 413 before it is read). */
  maxBytes: z.number().int().positive().max(16 * 1024 * 1024).default(64 * 1024),
  /** Send the upstream only the fields named above, re-serialised. */
  strip: z.boolean().default(false),
})

type Config = z.infer<typeof Config>

function typeOf(value: unknown): string {
  if (Array.isArray(value)) return 'array'
  if (value === null) return 'null'
  return typeof value
}

/** What is wrong with a parsed body, one entry per field. */
function problems(body: unknown, config: Config): { field: string; problem: string }[] {
  if (typeOf(body) !== 'object') return [{ field: '(body)', problem: `expected a JSON object, got ${typeOf(body)}` }]
  const record = body as Record<string, unknown>
  const found: { field: string; problem: string }[] = []
  for (const [field, type] of Object.entries(config.required)) {
    if (!(field in record)) found.push({ field, problem: `required (${type})` })
    else if (typeOf(record[field]) !== type) found.push({ field, problem: `expected ${type}, got ${typeOf(record[field])}` })
  }
  for (const [field, type] of Object.entries(config.optional)) {
    if (field in record && typeOf(record[field]) !== type) found.push({ field, problem: `expected ${type}, got ${typeOf(record[field])}` })
  }
  return found
}

function reject(stream: Stream, status: number, title: string, detail: string, errors?: unknown): void {
  const problem = { type: 'about:blank', title, status, detail, ...(errors ? { errors } : {}) }
  stream.sendLocalReply(status, JSON.stringify(problem), { 'content-type': 'application/problem+json' }, 'json_validator_rejected')
}

export default defineFilter({
  name: 'json-validator',
  config: Config,
  create(config) {
    const named = new Set([...Object.keys(config.required), ...Object.keys(config.optional)])
    return {
      async onRequestHeaders(headers: RequestHeaderMap, stream: Stream, endOfStream: boolean) {
        const path = headers.path ?? '/'
        if (!config.methods.includes(headers.method ?? '') || !config.paths.some((p) => path.startsWith(p))) return
        const type = (headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
        if (type !== 'application/json' && !type.endsWith('+json')) {
          return reject(stream, 415, 'Unsupported Media Type', `expected a JSON body, got content-type ${JSON.stringify(type)}`)
        }
        const length = Number(headers.get('content-length') ?? NaN)
        if (length > config.maxBytes) {
          return reject(stream, 413, 'Content Too Large', `the body has ${length} bytes; at most ${config.maxBytes} are accepted`)
        }
        if (endOfStream) return reject(stream, 400, 'Bad Request', 'the request has no body')
        // Holds the request (headers and body) until the whole body is here.
        const bytes = await stream.request.body.bytes()
        if (bytes.length > config.maxBytes) {
          return reject(stream, 413, 'Content Too Large', `the body has ${bytes.length} bytes; at most ${config.maxBytes} are accepted`)
        }
        let body: unknown
        try {
          body = JSON.parse(new TextDecoder().decode(bytes))
        } catch (error) {
          return reject(stream, 400, 'Bad Request', `the body is not JSON: ${(error as Error).message}`)
        }
        const found = problems(body, config)
        if (found.length > 0) return reject(stream, 400, 'Bad Request', 'the body does not match the schema', found)
        if (config.strip) {
          const kept = Object.fromEntries(Object.entries(body as Record<string, unknown>).filter(([k]) => named.has(k)))
          stream.request.body.replace(JSON.stringify(kept))  // content-length follows
        }
        headers.set('x-json-validated', 'true')
      },
    }
  },
})
