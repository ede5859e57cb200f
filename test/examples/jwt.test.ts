// The jwt example (examples/jwt/filter.ts) through libnodevoy in the proxy. Keys, the JWKS file and
// the tokens are made here, at test time, with jose; no key material is committed.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { Agent, request, setGlobalDispatcher } from 'undici'
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload, type KeyLike } from 'jose'
import { bootstrap } from '../harness/config.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { runExpectingFailure } from '../harness/proxy.js'
import { startProxyWithUpstream } from '../harness/stack.js'
import { forEachTarget } from '../harness/targets.js'

const ENTRY = 'examples/jwt/filter.ts'

// A request the proxy never answers fails after 15 s with HeadersTimeoutError, naming the request,
// rather than holding the whole file until tap's timeout. (Not a timing assertion: every answer
// expected here comes in well under a second.)
setGlobalDispatcher(new Agent({ headersTimeout: 15_000, bodyTimeout: 15_000 }))
const ISSUER = 'https://issuer.test'
const AUDIENCE = 'orders-api'

interface Fixture {
  dir: string
  jwksPath: string
  rsa: KeyLike
  ec: KeyLike
  /** Not in the JWKS, but signs with the RSA key's kid. */
  impostor: KeyLike
}

async function makeFixture(): Promise<Fixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodevoy-jwt-'))
  const rsa = await generateKeyPair('RS256')
  const ec = await generateKeyPair('ES256')
  const impostor = await generateKeyPair('RS256')
  const keys = [
    { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
    { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
  ]
  const jwksPath = path.join(dir, 'jwks.json')
  fs.writeFileSync(jwksPath, JSON.stringify({ keys }))
  return { dir, jwksPath, rsa: rsa.privateKey, ec: ec.privateKey, impostor: impostor.privateKey }
}

interface TokenOptions {
  key: KeyLike
  alg?: string
  kid?: string
  issuer?: string
  audience?: string | string[]
  /** Seconds from now; null for no exp claim. */
  expiresIn?: number | null
  claims?: JWTPayload
}

function sign(o: TokenOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const jwt = new SignJWT({ sub: 'alice', ...o.claims })
    .setProtectedHeader({ alg: o.alg ?? 'RS256', kid: o.kid ?? 'rsa-1', typ: 'JWT' })
    .setIssuer(o.issuer ?? ISSUER)
    .setAudience(o.audience ?? AUDIENCE)
    .setIssuedAt(now - 5)
  if (o.expiresIn !== null) jwt.setExpirationTime(now + (o.expiresIn ?? 600))
  return jwt.sign(o.key)
}

const REALM = 'orders'
const challenge = (description?: string) =>
  description === undefined
    ? `Bearer realm="${REALM}"`
    : `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"`

t.test('jwt: valid tokens are forwarded with claims as headers; every other case is a 401', (t) =>
  forEachTarget(t, async (t, target) => {
    const fx = await makeFixture()
    t.teardown(() => fs.rmSync(fx.dir, { recursive: true, force: true }))
    const bundle = await bundled(ENTRY)
    const config = {
      jwksPath: fx.jwksPath,
      issuer: ISSUER,
      audience: [AUDIENCE, 'other-api'],
      realm: REALM,
      claimToHeaders: [
        { claim: 'sub', header: 'x-jwt-sub' },
        { claim: 'roles', header: 'X-JWT-Roles' },
        { claim: 'profile', header: 'x-jwt-profile' },
      ],
    }
    const { proxy, upstream } = await startProxyWithUpstream(t, target, {
      filters: [nodevoyFilter({ name: 'jwt', bundle, config })],
    })
    const get = (headers: Record<string, string>) => request(`${proxy.url}/orders/7`, { headers })

    // Valid: RS256, then ES256 (the other key in the set), each forwarded.
    const rsToken = await sign({ key: fx.rsa, claims: { roles: ['reader', 'writer'], profile: { nested: true } } })
    const ok = await get({ authorization: `Bearer ${rsToken}`, 'x-jwt-sub': 'mallory', 'x-jwt-profile': 'forged' })
    t.equal(ok.statusCode, 200, 'a valid RS256 token: forwarded')
    t.equal(((await ok.body.json()) as { url: string }).url, '/orders/7', "the upstream's answer")
    const seen = upstream.requests[0]!
    t.equal(seen.headers['x-jwt-sub'], 'alice', 'x-jwt-sub from the sub claim, not the client')
    t.equal(seen.headers['x-jwt-roles'], 'reader,writer', 'a list claim joined with commas')
    t.notOk('x-jwt-profile' in seen.headers, "an object claim is not copied, and the client's value is gone")
    t.equal(seen.headers.authorization, `Bearer ${rsToken}`, 'the token is forwarded by default')

    const esToken = await sign({ key: fx.ec, alg: 'ES256', kid: 'ec-1', audience: 'other-api', claims: { sub: 'bob' } })
    const ok2 = await get({ authorization: `bearer ${esToken}` })
    t.equal(ok2.statusCode, 200, 'a valid ES256 token for the second audience, lower-case scheme: forwarded')
    await ok2.body.text()
    t.equal(upstream.requests[1]!.headers['x-jwt-sub'], 'bob')

    // Missing: the challenge without an error code (RFC 6750 §3.1).
    for (const [name, headers] of [
      ['no Authorization', {}],
      ['a Basic credential', { authorization: 'Basic YWxpY2U6d29uZGVybGFuZA==' }],
      ['an empty bearer', { authorization: 'Bearer ' }],
    ] as [string, Record<string, string>][]) {
      const res = await get(headers)
      t.equal(res.statusCode, 401, `${name}: 401`)
      t.equal(res.headers['www-authenticate'], challenge(), `${name}: Bearer challenge`)
      t.equal(await res.body.text(), 'a bearer token is required', `${name}: body`)
    }

    // Invalid: 401 with error="invalid_token" and a description.
    const now = Math.floor(Date.now() / 1000)
    const hsKey = new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!')
    const invalid: [string, string, string][] = [
      ['expired an hour ago', await sign({ key: fx.rsa, expiresIn: -3600 }), 'the token has expired'],
      ['for another audience', await sign({ key: fx.rsa, audience: 'billing-api' }), 'the token is for another audience'],
      ['from another issuer', await sign({ key: fx.rsa, issuer: 'https://evil.test' }), 'the token is from another issuer'],
      ['without exp', await sign({ key: fx.rsa, expiresIn: null }), 'the token has no exp claim'],
      ['not valid for an hour', await sign({ key: fx.rsa, claims: { nbf: now + 3600 } }), 'the token is not valid yet'],
      ['signed by a key not in the set', await sign({ key: fx.impostor }), 'the token signature is invalid'],
      ['with an unknown kid', await sign({ key: fx.impostor, kid: 'rsa-2' }), 'no key matches the token'],
      ['HS256 (not allowed)', await sign({ key: hsKey as unknown as KeyLike, alg: 'HS256' }), 'the token algorithm is not allowed'],
      ['garbage', 'not.a.jwt', 'the token is malformed'],
    ]
    for (const [name, token, description] of invalid) {
      const res = await get({ authorization: `Bearer ${token}` })
      t.equal(res.statusCode, 401, `${name}: 401`)
      t.equal(res.headers['www-authenticate'], challenge(description), `${name}: invalid_token with a description`)
      t.equal(await res.body.text(), description, `${name}: body`)
    }
    t.equal(upstream.requests.length, 2, 'only the two valid requests reached the upstream')
  }),
)

t.test('jwt: forwardToken: false strips the token from the upstream request', (t) =>
  forEachTarget(t, async (t, target) => {
    const fx = await makeFixture()
    t.teardown(() => fs.rmSync(fx.dir, { recursive: true, force: true }))
    const bundle = await bundled(ENTRY)
    const config = { jwksPath: fx.jwksPath, issuer: ISSUER, audience: AUDIENCE, forwardToken: false, algorithms: ['ES256'] }
    const { proxy, upstream } = await startProxyWithUpstream(t, target, {
      filters: [nodevoyFilter({ name: 'jwt', bundle, config })],
    })
    const res = await request(`${proxy.url}/`, { headers: { authorization: `Bearer ${await sign({ key: fx.ec, alg: 'ES256', kid: 'ec-1' })}` } })
    t.equal(res.statusCode, 200)
    await res.body.text()
    t.notOk('authorization' in upstream.requests[0]!.headers, 'the upstream does not see the token')
    const rs = await request(`${proxy.url}/`, { headers: { authorization: `Bearer ${await sign({ key: fx.rsa })}` } })
    t.equal(rs.statusCode, 401, 'RS256 refused when only ES256 is configured')
    t.equal(await rs.body.text(), 'the token algorithm is not allowed')
    t.equal(rs.headers['www-authenticate'], 'Bearer realm="nodevoy", error="invalid_token", error_description="the token algorithm is not allowed"',
      'the default realm')
  }),
)

t.test('jwt: an invalid config or JWKS file is refused, naming the problem', (t) =>
  forEachTarget(t, async (t, target) => {
    const fx = await makeFixture()
    t.teardown(() => fs.rmSync(fx.dir, { recursive: true, force: true }))
    const bundle = await bundled(ENTRY)
    const refuse = (config: unknown) =>
      runExpectingFailure(target, bootstrap({ filters: [nodevoyFilter({ name: 'jwt', bundle, config })], clusters: { backend: [9] } }))

    const fields = await refuse({ jwksPath: 'jwks.json', issuer: ISSUER, algorithms: ['HS256'], claimToHeaders: [{ claim: 'sub', header: 'x jwt' }] })
    t.not(fields.code, 0, 'the proxy refuses to start')
    t.match(fields.output, /invalid config for filter "jwt": /)
    t.match(fields.output, /jwksPath: must be an absolute path/, 'a relative JWKS path')
    t.match(fields.output, /audience: must be a non-empty string or a non-empty list of them/, 'the missing audience')
    t.match(fields.output, /algorithms\.0: .*RS256/, 'an algorithm not offered, with the ones that are')
    t.match(fields.output, /claimToHeaders\.0\.header: not a valid header name/, 'a bad header name')

    const absent = path.join(fx.dir, 'absent.json')
    const noFile = await refuse({ jwksPath: absent, issuer: ISSUER, audience: AUDIENCE })
    t.not(noFile.code, 0)
    t.match(noFile.output, `jwt: cannot read the JWKS file ${absent}: ENOENT`, 'a missing JWKS file is named')

    const notJson = path.join(fx.dir, 'not.json')
    fs.writeFileSync(notJson, 'keys: []')
    const bad = await refuse({ jwksPath: notJson, issuer: ISSUER, audience: AUDIENCE })
    t.match(bad.output, `jwt: the JWKS file ${notJson} is not JSON`, 'a JWKS file that is not JSON')

    const empty = path.join(fx.dir, 'empty.json')
    fs.writeFileSync(empty, '{"keys": []}')
    const none = await refuse({ jwksPath: empty, issuer: ISSUER, audience: AUDIENCE })
    t.match(none.output, `jwt: the JWKS file ${empty} has no keys`, 'a JWKS without keys')
  }),
)
