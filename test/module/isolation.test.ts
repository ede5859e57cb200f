// libnodevoy refuses to load in a process whose exported symbols would replace libnode's
// dependencies (DESIGN.md: symbols), instead of running with a hijacked libuv.
import path from 'node:path'
import t from 'tap'
import { bootstrap } from '../harness/config.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { outDir } from '../harness/paths.js'
import { runExpectingFailure } from '../harness/proxy.js'
import { forEachTarget } from '../harness/targets.js'

t.test('a host exporting uv_version makes libnodevoy refuse to load, saying why', (t) =>
  forEachTarget(t, async (t, target) => {
    const bundle = await bundled('test/filters/read-headers.ts')
    const { code, output } = await runExpectingFailure(
      target,
      bootstrap({ filters: [nodevoyFilter({ name: 'f', bundle })], routes: [{ prefix: '/', directResponse: { status: 200 } }] }),
      { env: { LD_PRELOAD: path.join(outDir, 'test-native', 'libdecoy_uv.so') } },
    )
    t.not(code, 0, 'the config is refused')
    t.match(output, /nodevoy: refusing to load: uv_version resolves to .*libdecoy_uv\.so instead of libuv\.so\.1/)
  }),
)
