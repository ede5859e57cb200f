// JWT verification: requires `Authorization: Bearer <JWT>` signed by a key in a local JWKS file, for
// the configured issuer and audience, with an allowed algorithm, not expired. Answers 401 otherwise
// (RFC 6750 challenge); on success forwards the request, optionally with claims copied into headers.
import fs from 'node:fs'
import path from 'node:path'
import { z } from 'zod'
import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose'
import { defineFilter } from 'nodevoy'

// Asymmetric algorithms only: a JWKS file holds public keys. (HS* would need the shared secret here.)
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/
const QUOTABLE = /^[^"\\\r\n]*$/  // safe inside a quoted-string of the challenge

const oneOrMany = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
  error: 'must be a non-empty string or a non-empty list of them',
})

const Config = z
  .object({
    /** Absolute path of the JSON Web Key Set ({"keys": [...]}); read once when the filter is created. */
    jwksPath: z.string().refine((p) => path.isAbsolute(p), 'must be an absolute path'),
    /** Accepted `iss` value(s). */
    issuer: oneOrMany,
    /** Accepted `aud` value(s): the token must name at least one. */
    audience: oneOrMany,
    /** Accepted signature algorithms (the token's `alg` header). */
    algorithms: z.array(z.enum(ALGORITHMS)).min(1).default(['RS256', 'ES256']),
    /** Leeway for `exp` and `nbf`, for clocks that disagree a little. */
    clockToleranceSeconds: z.number().int().min(0).max(600).default(60),
    /** Refuse tokens without an `exp` claim (tokens that never expire). */
    requireExpiration: z.boolean().default(true),
    /** The realm in the WWW-Authenticate challenge. */
    realm: z.string().regex(QUOTABLE, 'must not contain quotes, backslashes or line breaks').default('nodevoy'),
    /**
     * Claims copied into request headers for the upstream. Each header is first removed from the
     * client's request, so the upstream only ever sees values from a verified token.
     */
    claimToHeaders: z
      .array(
        z
          .object({
            claim: z.string().min(1),
            header: z
              .string()
              .transform((h) => h.toLowerCase())
              .refine((h) => TOKEN.test(h), 'not a valid header name'),
          })
          .strict(),
      )
      .default([]),
    /** Keep the Authorization header on the request the upstream sees. */
    forwardToken: z.boolean().default(true),
  })
  .strict()

// A claim as a header value: strings, numbers and booleans, lists of them joined with commas.
// Anything else, or text outside printable ASCII, is not copied.
function claimValue(value: unknown): string | undefined {
  const scalar = (v: unknown) => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined)
  const text = Array.isArray(value)
    ? value.every((v) => scalar(v) !== undefined)
      ? value.map(scalar).join(',')
      : undefined
    : scalar(value)
  return text !== undefined && /^[\x20-\x7e]*$/.test(text) ? text : undefined
}

// Why a token was refused, for the client: short, stable, and free of quotes (RFC 6750 error_description).
function whyInvalid(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired'
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return `the token has no ${error.claim} claim`
    if (error.claim === 'iss') return 'the token is from another issuer'
    if (error.claim === 'aud') return 'the token is for another audience'
    if (error.claim === 'nbf') return 'the token is not valid yet'
    return `the token has an invalid ${error.claim} claim`
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the token algorithm is not allowed'
  if (error instanceof errors.JWKSNoMatchingKey) return 'no key matches the token'
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is invalid'
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'the token is malformed'
  return 'the token is invalid'
}

function loadKeySet(file: string): JSONWebKeySet {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (error) {
    throw new Error(`jwt: cannot read the JWKS file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new Error(`jwt: the JWKS file ${file} is not JSON`)
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new Error(`jwt: the JWKS file ${file} has no keys (expected {"keys": [...]})`)
  }
  return parsed as JSONWebKeySet
}

const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i

export default defineFilter({
  name: 'jwt',
  config: Config,
  create(config, context) {
    const keySet = createLocalJWKSet(loadKeySet(config.jwksPath))
    context.log('debug', `JWKS loaded from ${config.jwksPath}`)
    const options = {
      issuer: config.issuer,
      audience: config.audience,
      algorithms: [...config.algorithms],
      clockTolerance: config.clockToleranceSeconds,
      requiredClaims: config.requireExpiration ? ['exp'] : [],
    }
    const missing = { 'www-authenticate': `Bearer realm="${config.realm}"` }
    const invalid = (description: string) => ({
      'www-authenticate': `Bearer realm="${config.realm}", error="invalid_token", error_description="${description}"`,
    })

    return {
      async onRequestHeaders(headers, stream) {
        // Whatever happens next, the upstream never sees claim headers the client made up.
        for (const { header } of config.claimToHeaders) headers.remove(header)
        const token = BEARER.exec(headers.get('authorization') ?? '')?.[1]
        if (token === undefined) {
          return stream.sendLocalReply(401, 'a bearer token is required', missing, 'jwt_missing')
        }
        let payload: JWTPayload
        try {
          payload = (await jwtVerify(token, keySet, options)).payload
        } catch (error) {
          const description = whyInvalid(error)
          stream.log('debug', `token refused: ${description} (${error instanceof Error ? error.message : String(error)})`)
          return stream.sendLocalReply(401, description, invalid(description), 'jwt_invalid')
        }
        for (const { claim, header } of config.claimToHeaders) {
          const value = claimValue(payload[claim])
          if (value !== undefined) headers.set(header, value)
        }
        if (!config.forwardToken) headers.remove('authorization')
      },
    }
  },
})
