// npm run demo: the TypeScript basic-auth example (examples/basic-auth/filter.ts), bundled and run
// by libnodevoy inside the dev host, in front of a small upstream; sends real requests and prints
// each outcome.
import { request } from 'undici'
import { bootstrap } from '../test/harness/config.js'
import { bundled, nodevoyFilter } from '../test/harness/nodevoy.js'
import { startProxy } from '../test/harness/proxy.js'
import { startUpstream } from '../test/harness/upstream.js'

const credentials = { username: 'alice', password: 'wonderland', realm: 'nodevoy-demo' }
const basic = (user: string, pass: string) => 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64')

async function main(): Promise<void> {
  const upstream = await startUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end('hello from the upstream\n')
  })
  const bundle = await bundled('examples/basic-auth/filter.ts')
  const proxy = await startProxy(
    'devhost',
    bootstrap({
      filters: [nodevoyFilter({ name: 'basic-auth', bundle, config: credentials })],
      clusters: { backend: [upstream.port] },
    }),
    { concurrency: 2 },
  )
  console.log(`dev host listening on ${proxy.url} (admin ${proxy.adminUrl}); upstream on 127.0.0.1:${upstream.port}`)
  console.log('filter: examples/basic-auth/filter.ts, running on Node in libnodevoy\n')
  const cases: [string, Record<string, string>][] = [
    ['no Authorization header', {}],
    ['malformed Authorization', { authorization: 'Basic not-base64!' }],
    ['wrong password', { authorization: basic('alice', 'guess') }],
    ['right credentials', { authorization: basic('alice', 'wonderland') }],
  ]
  let failures = 0
  for (const [name, headers] of cases) {
    const res = await request(`${proxy.url}/hello`, { headers })
    const body = (await res.body.text()).trim()
    const challenge = res.headers['www-authenticate'] ? `  [www-authenticate: ${res.headers['www-authenticate']}]` : ''
    console.log(`${name.padEnd(26)} -> ${res.statusCode} ${body}${challenge}`)
    const expected = name === 'right credentials' ? 200 : 401
    if (res.statusCode !== expected) failures++
  }
  const exit = await proxy.stop()
  await upstream.close()
  console.log(`\ndev host stopped (exit code ${exit.code})`)
  if (failures > 0 || exit.code !== 0) process.exitCode = 1
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
