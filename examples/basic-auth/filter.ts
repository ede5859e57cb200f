// HTTP Basic authentication: answers 401 unless the request carries the configured credentials.
import { z } from 'zod'
import { defineFilter } from 'nodevoy'

const Config = z.object({
  username: z.string().min(1).refine((u) => !u.includes(':'), 'must not contain ":"'),
  password: z.string().min(1),
  realm: z.string().regex(/^[^"\\\r\n]*$/, 'must not contain quotes, backslashes or line breaks').default('nodevoy'),
})

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

// Compares in time that depends only on the expected value's length, never on where they differ.
function constantTimeEquals(candidate: string, expected: string): boolean {
  let diff = candidate.length ^ expected.length
  for (let i = 0; i < expected.length; i++) {
    diff |= (i < candidate.length ? candidate.charCodeAt(i) : 0) ^ expected.charCodeAt(i)
  }
  return diff === 0
}

export default defineFilter({
  name: 'basic-auth',
  config: Config,
  create(config) {
    // Browsers send the canonical base64 of "user:password"; compare encoded, decode only to explain a refusal.
    const expected = Buffer.from(`${config.username}:${config.password}`, 'utf8').toString('base64')
    const challenge = { 'www-authenticate': `Basic realm="${config.realm}"` }
    return {
      onRequestHeaders(headers, stream) {
        const authorization = headers.get('authorization')
        if (authorization === undefined) {
          return stream.sendLocalReply(401, 'no Authorization', challenge, 'basic_auth_missing')
        }
        const scheme = authorization.slice(0, 6).toLowerCase()
        const encoded = authorization.slice(6).trim()
        if (scheme === 'basic ' && constantTimeEquals(encoded, expected)) return
        const decoded = scheme === 'basic ' && BASE64.test(encoded) ? Buffer.from(encoded, 'base64') : undefined
        if (decoded === undefined || decoded.indexOf(0x3a /* ':' */) < 0) {
          return stream.sendLocalReply(401, 'invalid Authorization format', challenge, 'basic_auth_malformed')
        }
        return stream.sendLocalReply(401, 'invalid username or password', challenge, 'basic_auth_denied')
      },
    }
  },
})
