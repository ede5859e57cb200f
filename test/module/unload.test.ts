// libnodevoy pins itself (issue 8, m13): a config without do_not_close lets the host dlclose the
// module when its last config goes away, but V8's threads and the loop pollers still run its code —
// so the module must stay mapped. Here the dev host drops the module's last config and later loads
// one again; the process keeps serving.
import t from 'tap'
import { request } from 'undici'
import { bootstrap } from '../harness/config.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { startProxy } from '../harness/proxy.js'
import { devHostOnly } from '../harness/targets.js'

t.test('dropping the last config without do_not_close does not unmap libnodevoy', (t) =>
  devHostOnly(t, async (t) => {
    const bundle = await bundled('test/filters/worker-identity.ts')
    const routes = [{ prefix: '/', directResponse: { status: 200, body: 'fine' } }]
    const withFilter = bootstrap({ filters: [{ ...nodevoyFilter({ name: 'id', bundle }), doNotClose: false }], routes })
    const without = bootstrap({ filters: [], routes })
    const proxy = await startProxy('devhost', withFilter, { concurrency: 2 })
    t.teardown(() => proxy.stop())
    const get = async () => {
      const res = await request(`${proxy.url}/`)
      await res.body.text()
      return res
    }
    t.equal((await get()).headers['x-worker'] !== undefined, true, 'the filter runs')
    for (let round = 0; round < 3; round++) {
      t.equal((await proxy.reload(without)).status, 200, `round ${round}: the last nodevoy config is gone`)
      await new Promise((r) => setTimeout(r, 200))  // V8's and the pollers' threads keep running meanwhile
      t.equal((await get()).statusCode, 200, 'the proxy serves without the filter')
      t.equal((await proxy.reload(withFilter)).status, 200, 'the filter is loaded again')
      const res = await get()
      t.equal(res.statusCode, 200)
      t.ok(res.headers['x-worker'] !== undefined, 'and runs again')
    }
    t.equal(proxy.process.exitCode, null, 'the process is alive')
    t.equal((await proxy.stop()).code, 0, 'and exits cleanly')
  }),
)
