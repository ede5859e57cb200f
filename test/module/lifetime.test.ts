// Stream objects used after their stream ended throw StreamGoneError and never touch Envoy memory.
import net from 'node:net'
import t from 'tap'
import { request } from 'undici'
import { bootstrap } from '../harness/config.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { startProxy, type Proxy } from '../harness/proxy.js'
import { forEachTarget } from '../harness/targets.js'

async function report(proxy: Proxy): Promise<string[]> {
  const res = await request(`${proxy.url}/report`)
  return (await res.body.json()) as string[]
}

async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const value = await probe()
    if (done(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

const config = async () =>
  bootstrap({
    filters: [nodevoyFilter({ name: 'lifetime', bundle: await bundled('test/filters/lifetime.ts') })],
    routes: [{ prefix: '/', directResponse: { status: 200, body: 'done' } }],
  })

t.test('a header map kept past the response throws StreamGoneError; the host keeps serving', (t) =>
  forEachTarget(t, async (t, target) => {
    // One worker, so /report sees the environment that recorded the outcomes.
    const proxy = await startProxy(target, await config(), { concurrency: 1 })
    t.teardown(() => proxy.stop())
    const res = await request(`${proxy.url}/keep?delay=30`)
    t.equal(res.statusCode, 200)
    t.equal(await res.body.text(), 'done')
    const outcomes = await until(() => report(proxy), (o) => o.length >= 4, 'the late accesses')
    t.same(outcomes, [
      'read-after-end:StreamGoneError:NODEVOY_ERR_STREAM_GONE',
      'write-after-end:StreamGoneError:NODEVOY_ERR_STREAM_GONE',
      'reply-after-end:StreamGoneError:NODEVOY_ERR_STREAM_GONE',
      'kept-value:/keep?delay=30',
    ], 'every call throws; a value read while the stream lived is still valid')
    const again = await request(`${proxy.url}/other`)
    t.equal(again.statusCode, 200, 'the host still serves')
    await again.body.text()
  }),
)

t.test('a client that disconnects while an async hook is pending: no crash, later calls throw', (t) =>
  forEachTarget(t, async (t, target) => {
    const proxy = await startProxy(target, await config(), { concurrency: 1 })
    t.teardown(() => proxy.stop())
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(proxy.port, '127.0.0.1', () => {
        socket.write('GET /slow?delay=300 HTTP/1.1\r\nhost: x\r\n\r\n')
        setTimeout(() => {
          socket.destroy()
          resolve()
        }, 50)
      })
      socket.on('error', reject)
    })
    const outcomes = await until(() => report(proxy), (o) => o.some((x) => x.startsWith('after-await')), 'the awaited access')
    t.ok(outcomes.includes('after-await:StreamGoneError:NODEVOY_ERR_STREAM_GONE'), 'the call after the await throws')
    const res = await request(`${proxy.url}/keep?delay=1000000`)
    t.equal(res.statusCode, 200, 'the host still serves')
    await res.body.text()
  }),
)
