// HTTP Basic authentication: answers 401 unless the request carries the configured credentials.
import { createHash, timingSafeEqual } from 'node:crypto'
import { z } from 'zod'
import { defineFilter } from 'nodevoy'

const Config = z.object({
  username: z.string().min(1).refine((u) => !u.includes(':'), 'must not contain ":"'),
  password: z.string().min(1),
  realm: z.string().regex(/^[^"\\\r\n]*$/, 'must not contain quotes, backslashes or line breaks').default('nodevoy'),
})

// Hashing both sides first gives equal-length inputs, so the comparison takes the same time
// whatever the client sent.
const digest = (value: Buffer) => createHash('sha256').update(value).digest()

export default defineFilter({
  name: 'basic-auth',
  config: Config,
  create(config) {
    const expected = digest(Buffer.from(`${config.username}:${config.password}`, 'utf8'))
    const challenge = { 'www-authenticate': `Basic realm="${config.realm}"` }
    return {
      onRequestHeaders(headers, stream) {
        const authorization = headers.get('authorization')
        if (authorization === undefined) {
          return stream.sendLocalReply(401, 'no Authorization', challenge, 'basic_auth_missing')
        }
        const match = /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(authorization.trim())
        const decoded = match ? Buffer.from(match[1]!, 'base64') : undefined
        if (decoded === undefined || decoded.length === 0 || !decoded.includes(0x3a /* ':' */)) {
          return stream.sendLocalReply(401, 'invalid Authorization format', challenge, 'basic_auth_malformed')
        }
        if (!timingSafeEqual(digest(decoded), expected)) {
          return stream.sendLocalReply(401, 'invalid username or password', challenge, 'basic_auth_denied')
        }
      },
    }
  },
})
