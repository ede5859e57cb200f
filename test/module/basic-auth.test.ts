// The TypeScript basic-auth example through libnodevoy in the proxy.
import t from 'tap'
import { request } from 'undici'
import { bootstrap } from '../harness/config.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { runExpectingFailure } from '../harness/proxy.js'
import { startProxyWithUpstream } from '../harness/stack.js'
import { forEachTarget } from '../harness/targets.js'

const basic = (user: string, pass: string) => 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64')

t.test('basic-auth: three kinds of 401 with the realm, then the upstream for the right credentials', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('examples/basic-auth/filter.ts')
    const { proxy, upstream } = await startProxyWithUpstream(t, target, {
      filters: [nodevoyFilter({ name: 'auth', bundle, config: { username: 'alice', password: 'wonderland', realm: 'test-realm' } })],
    })
    const cases: [string, Record<string, string>, string][] = [
      ['missing', {}, 'no Authorization'],
      ['malformed', { authorization: 'Bearer token' }, 'invalid Authorization format'],
      ['not base64', { authorization: 'Basic ***' }, 'invalid Authorization format'],
      ['no colon', { authorization: 'Basic ' + Buffer.from('alice').toString('base64') }, 'invalid Authorization format'],
      ['wrong password', { authorization: basic('alice', 'nope') }, 'invalid username or password'],
      ['wrong user', { authorization: basic('mallory', 'wonderland') }, 'invalid username or password'],
    ]
    for (const [name, headers, body] of cases) {
      const res = await request(`${proxy.url}/private`, { headers })
      t.equal(res.statusCode, 401, `${name}: 401`)
      t.equal(res.headers['www-authenticate'], 'Basic realm="test-realm"', `${name}: challenge with the realm`)
      t.equal(await res.body.text(), body, `${name}: body`)
    }
    t.equal(upstream.requests.length, 0, 'nothing denied reached the upstream')
    const ok = await request(`${proxy.url}/private`, { headers: { authorization: basic('alice', 'wonderland') } })
    t.equal(ok.statusCode, 200)
    t.equal(ok.headers['x-upstream'], 'yes', "the upstream's response")
    t.equal(((await ok.body.json()) as { url: string }).url, '/private', "and the upstream's body")
  }),
)

t.test('basic-auth: an invalid config is refused, naming the field and why', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('examples/basic-auth/filter.ts')
    const missing = await runExpectingFailure(
      target,
      bootstrap({ filters: [nodevoyFilter({ name: 'auth', bundle, config: { username: 'alice' } })], clusters: { backend: [9] } }),
    )
    t.not(missing.code, 0, 'the proxy refuses to start')
    t.match(missing.output, /invalid config for filter "basic-auth": password: /, 'names the missing field')
    const wrongType = await runExpectingFailure(
      target,
      bootstrap({
        filters: [nodevoyFilter({ name: 'auth', bundle, config: { username: 'a:b', password: 42 } })],
        clusters: { backend: [9] },
      }),
    )
    t.match(wrongType.output, /username: must not contain ":"/, 'a refinement failure, with its message')
    t.match(wrongType.output, /password: .*(string|number)/, 'a type error')
    const noBundle = await runExpectingFailure(
      target,
      bootstrap({ filters: [nodevoyFilter({ name: 'auth', bundle: '/nonexistent/bundle.js' })], clusters: { backend: [9] } }),
    )
    t.match(noBundle.output, /cannot load bundle \/nonexistent\/bundle\.js/, 'a missing bundle is named')
    const wrongName = await runExpectingFailure(
      target,
      bootstrap({ filters: [nodevoyFilter({ name: 'auth', bundle, filter: 'nope' })], clusters: { backend: [9] } }),
    )
    t.match(wrongName.output, /no filter named "nope" \(filters found: "basic-auth"\)/, 'a wrong filter name lists the real ones')
  }),
)
