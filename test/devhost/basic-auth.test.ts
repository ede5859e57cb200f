// The C reference basic_auth module through the proxy, with real HTTP.
import t from 'tap'
import { request } from 'undici'
import { bootstrap } from '../harness/config.js'
import { runExpectingFailure } from '../harness/proxy.js'
import { startProxyWithUpstream } from '../harness/stack.js'
import { forEachTarget } from '../harness/targets.js'

const credentials = { username: 'alice', password: 'wonderland', realm: 'nodevoy-test' }
const basic = (user: string, pass: string) => 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64')

t.test('basic_auth answers 401 with the realm, or lets the request through', (t) =>
  forEachTarget(t, async (t, target) => {
    const { proxy, upstream } = await startProxyWithUpstream(t, target, {
      filters: [{ name: 'auth', module: 'basic_auth', config: credentials }],
    })

    const cases: [string, Record<string, string>, string][] = [
      ['no header', {}, 'no Authorization'],
      ['not Basic', { authorization: 'Bearer abc' }, 'invalid Authorization format'],
      ['bad base64', { authorization: 'Basic !!!' }, 'invalid Authorization format'],
      ['no colon', { authorization: 'Basic ' + Buffer.from('alice').toString('base64') }, 'invalid Authorization format'],
      ['wrong password', { authorization: basic('alice', 'nope') }, 'invalid username or password'],
      ['wrong user', { authorization: basic('bob', 'wonderland') }, 'invalid username or password'],
    ]
    for (const [name, headers, body] of cases) {
      const res = await request(`${proxy.url}/private`, { headers })
      t.equal(res.statusCode, 401, `${name}: 401`)
      t.equal(res.headers['www-authenticate'], 'Basic realm="nodevoy-test"', `${name}: realm`)
      t.equal(await res.body.text(), body, `${name}: body`)
    }
    t.equal(upstream.requests.length, 0, 'no denied request reached the upstream')

    const ok = await request(`${proxy.url}/private`, { headers: { authorization: basic('alice', 'wonderland') } })
    t.equal(ok.statusCode, 200)
    t.equal(ok.headers['x-upstream'], 'yes', "the upstream's response")
    const echoed = (await ok.body.json()) as { url: string; headers: Record<string, string> }
    t.equal(echoed.url, '/private')
    t.equal(upstream.requests.length, 1)
  }),
)

t.test('basic_auth refuses a config without a password, naming the field', (t) =>
  forEachTarget(t, async (t, target) => {
    const { code, output } = await runExpectingFailure(
      target,
      bootstrap({
        filters: [{ name: 'auth', module: 'basic_auth', config: { username: 'alice' } }],
        clusters: { backend: [9] },
      }),
    )
    t.not(code, 0, 'exits non-zero')
    t.match(output, /password/, 'the log names the missing field')
  }),
)
