// Issue 7: a careless or hostile filter cannot inject headers, take the proxy down, or strand a
// request. Bytes are compared where they land (the upstream's and the client's raw HTTP/1.1).
import fc from 'fast-check'
import t from 'tap'
import type { Test } from 'tap'
import { request } from 'undici'
import { bootstrap } from '../harness/config.js'
import { bundled, nodevoyFilter } from '../harness/nodevoy.js'
import { startProxy, type Proxy } from '../harness/proxy.js'
import { linesNamed, rawRequest, startRawUpstream, type RawHead, type RawUpstream } from '../harness/raw-http.js'
import { devHostOnly } from '../harness/targets.js'

interface Stack {
  proxy: Proxy
  upstream: RawUpstream
}

async function start(t: Test, concurrency = 2): Promise<Stack> {
  const upstream = await startRawUpstream()
  t.teardown(() => upstream.close())
  const bundle = await bundled('test/filters/hostile.ts')
  const proxy = await startProxy(
    'devhost',
    bootstrap({
      filters: [nodevoyFilter({ name: 'hostile', bundle })],
      routes: [{ prefix: '/', cluster: 'backend' }],
      clusters: { backend: [upstream.port] },
    }),
    { concurrency },
  )
  t.teardown(() => proxy.stop())
  return { proxy, upstream }
}

async function json(proxy: Proxy, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, string> }> {
  const res = await request(`${proxy.url}${path}`, { headers })
  const text = await res.body.text()
  let body: Record<string, string> = {}
  try {
    body = JSON.parse(text) as Record<string, string>
  } catch {
    body = { text }
  }
  return { status: res.statusCode, body }
}

/** After the faults: both workers still answer, and nothing touched Envoy off a hook. */
async function stillHealthy(t: Test, proxy: Proxy): Promise<void> {
  const results = await Promise.all(Array.from({ length: 40 }, () => request(`${proxy.url}/healthy`)))
  const statuses = await Promise.all(results.map(async (r) => (await r.body.text(), r.statusCode)))
  t.ok(statuses.every((s) => s === 200), 'the proxy still serves (40 requests, all 200)')
  t.equal(await proxy.stat('devhost.abi_violation'), undefined, 'devhost.abi_violation absent')
  t.equal(proxy.process.exitCode, null, 'the proxy process is alive')
}

// Fetch's rules, restated independently of libnodevoy's: what must be refused.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
function refused(name: string, value: string, op: 'set' | 'add' | 'reply'): boolean {
  if (/[^\x00-\xff]/.test(name) || /[^\x00-\xff]/.test(value)) return true
  if (!TOKEN.test(name)) return true
  if (/[\0\r\n]/.test(value)) return true
  if (value === '' && op !== 'reply') return true
  if (op === 'reply' && /^(content-length|transfer-encoding)$/i.test(name)) return true
  return false
}
// Names with a protocol meaning of their own (framing, hop-by-hop, or rewritten by the proxy):
// writing them is legitimate but not a byte-transparency question.
const PROTOCOL_NAMES = /^(host|content-length|transfer-encoding|connection|keep-alive|te|trailer|upgrade|expect|proxy-connection|x-forwarded-.*|x-request-id|x-envoy-.*|via|date|server|content-type)$/i

/** JSON with every character outside printable ASCII escaped, so it travels as a header value. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

function countLines(head: RawHead): number {
  return head.lines.length
}

t.test('defect 1: header bytes — no injection, no silent narrowing, token names', (t) =>
  devHostOnly(t, async (t) => {
    const { proxy, upstream } = await start(t)
    const probe = async (op: 'set' | 'add' | 'reply', name: string, value: string) => {
      const before = upstream.heads.length
      const res = await rawRequest(proxy.port, `/header/${op}`, { 'x-case': asciiJson({ name, value }) })
      return { res, upstreamHead: upstream.heads.length > before ? upstream.heads[upstream.heads.length - 1] : undefined }
    }
    for (const op of ['set', 'add', 'reply'] as const) {
      const { res, upstreamHead } = await probe(op, 'x-a', '\u010d\u010ax-injected: yes')
      t.equal(res.status, 200)
      const body = JSON.parse(res.body.toString()) as { error?: string; message?: string }
      t.equal(body.error, 'NODEVOY_ERR_INVALID_ARGUMENT', `${op}: U+010D U+010A is refused`)
      t.match(body.message ?? '', /"x-a".*U\+010D at index 0 is not a byte/, `${op}: the message names the header and the code unit`)
      t.equal(upstreamHead, undefined, `${op}: nothing reached the upstream`)
      t.equal(linesNamed(res.head, 'x-injected').length, 0, `${op}: no injected line downstream`)
    }
    for (const [name, value, what] of [
      ['x-a', 'a\u0100b', 'U+0100 (used to become NUL)'],
      ['x-a', '日本', 'CJK'],
      ['x y', 'v', 'a name with a space'],
      ['x:y', 'v', 'a name with a colon'],
      ['x(', 'v', 'a name with a parenthesis'],
      ['', 'v', 'an empty name'],
      ['x-\u212a', 'v', 'a name that lower-cases to ASCII (Kelvin sign)'],
      ['x-a', 'a\r\nb', 'CRLF'],
      ['x-a', 'a\0b', 'NUL'],
    ] as const) {
      const { res, upstreamHead } = await probe('set', name, value)
      const body = JSON.parse(res.body.toString()) as { error?: string }
      t.equal(body.error, 'NODEVOY_ERR_INVALID_ARGUMENT', `set: ${what} is refused`)
      t.equal(upstreamHead, undefined, `set: ${what}: the request did not go on`)
    }
    // A latin1 value is exactly its bytes; a UTF-8 value is written encoded.
    const utf8 = Buffer.from('café 日本', 'utf8').toString('latin1')
    for (const value of ['caf\u00e9', utf8]) {
      const { res, upstreamHead } = await probe('set', 'x-text', value)
      t.equal(res.status, 200)
      const lines = upstreamHead ? linesNamed(upstreamHead, 'x-text') : []
      t.equal(lines.length, 1)
      t.same(lines[0], Buffer.concat([Buffer.from('x-text: '), Buffer.from(value, 'latin1')]), `bytes of ${JSON.stringify(value)} arrive exactly`)
    }
    await stillHealthy(t, proxy)
  }),
)

t.test('property: random strings as header names and values — a clear error, or exactly the bytes', (t) =>
  devHostOnly(t, async (t) => {
    const { proxy, upstream } = await start(t)
    // Baseline: how many header lines a request without the filter's write has upstream.
    await rawRequest(proxy.port, '/baseline', { 'x-case': '{}' })
    const baseline = countLines(upstream.heads[upstream.heads.length - 1]!)
    const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))
    const latin1 = fc.integer({ min: 0, max: 0xff }).map((c) => String.fromCharCode(c))
    const tokenChar = fc.constantFrom(...'abcxyzXYZ019-_.!#$%&\'*+^`|~'.split(''))
    const special = fc.constantFrom('\r', '\n', '\0', '\u010a', '\u010d', '\u0100', '\ud800', '\udfff', ':', ' ', '\t')
    const unit = fc.oneof({ arbitrary: tokenChar, weight: 6 }, { arbitrary: latin1, weight: 2 }, { arbitrary: anyUnit, weight: 1 }, { arbitrary: special, weight: 1 })
    const text = (min: number) => fc.string({ unit, minLength: min, maxLength: 12 })
    const name = fc.oneof({ arbitrary: fc.string({ unit: tokenChar, minLength: 1, maxLength: 8 }).map((s) => `x-${s}`), weight: 3 }, { arbitrary: text(0), weight: 2 })
    const op = fc.constantFrom('set' as const, 'add' as const, 'reply' as const)
    let errors = 0
    let exact = 0
    await fc.assert(
      fc.asyncProperty(op, name, text(0), async (op, name, value) => {
        if (PROTOCOL_NAMES.test(name)) return true
        const before = upstream.heads.length
        const res = await rawRequest(proxy.port, `/header/${op}`, { 'x-case': asciiJson({ name, value }) })
        const expectRefusal = refused(name, value, op)
        const isJsonError = res.status === 200 && res.body.toString().startsWith('{"error"')
        if (expectRefusal) {
          const body = JSON.parse(res.body.toString()) as { error?: string }
          if (body.error !== 'NODEVOY_ERR_INVALID_ARGUMENT') throw new Error(`expected a refusal, got ${res.body.toString()}`)
          if (upstream.heads.length !== before) throw new Error('a refused write still reached the upstream')
          errors++
          return true
        }
        if (isJsonError) throw new Error(`refused a valid header: ${res.body.toString()}`)
        const expected = Buffer.concat([Buffer.from(`${name.toLowerCase()}: `, 'latin1'), Buffer.from(value, 'latin1')])
        const head = op === 'reply' ? res.head : upstream.heads[upstream.heads.length - 1]!
        const lines = linesNamed(head, name)
        if (lines.length !== 1 || !lines[0]!.equals(expected)) {
          throw new Error(`expected one line ${JSON.stringify(expected.toString('latin1'))}, got ${JSON.stringify(lines.map((l) => l.toString('latin1')))}`)
        }
        if (op !== 'reply' && countLines(head) !== baseline + 1) {
          throw new Error(`the upstream saw ${countLines(head)} header lines, expected ${baseline + 1}`)
        }
        exact++
        return true
      }),
      { numRuns: 300 },
    )
    t.ok(errors > 20 && exact > 20, `both outcomes exercised (${errors} refused, ${exact} exact)`)
    await stillHealthy(t, proxy)
  }),
)

t.test('defect 2: the proxy survives uncaught errors, and process calls that would stop it are refused', (t) =>
  devHostOnly(t, async (t) => {
    const { proxy } = await start(t)
    for (const how of ['rethrow', 'monitor', 'rejection-listener', 'tick', 'null-proto']) {
      const { status } = await json(proxy, `/uncaught/${how}`)
      t.equal(status, 200, `${how}: the request itself is answered`)
    }
    await proxy.waitForLog(/uncaught exception outside a hook: Error: thrown in a timer after the listeners were replaced/)
    await proxy.waitForLog(/a process 'uncaughtException' listener threw/)
    await proxy.waitForLog(/a process 'uncaughtExceptionMonitor' listener threw: Error: a monitor that throws/)
    await proxy.waitForLog(/a process 'unhandledRejection' listener threw/)
    await proxy.waitForLog(/uncaught exception outside a hook: Error: thrown in a nextTick callback/)
    await proxy.waitForLog(/uncaught exception outside a hook: \[object Object\]/)
    t.pass('each error outside a hook is logged')
    t.ok(((await proxy.stat('dynamicmodulescustom.nodevoy_uncaught_errors')) ?? 0) >= 5, 'and counted in nodevoy_uncaught_errors')
    const refusals: Record<string, RegExp> = {
      kill: /process\.kill\(\d+\) is not allowed/,
      'kill-group': /process\.kill\(0\) is not allowed/,
      'kill-string-pid': /is not allowed in a nodevoy filter: it would signal the proxy itself/,
      abort: /process\.abort\(\) is not allowed/,
      'really-exit': /process\.reallyExit is not allowed/,
      dlopen: /loading the native addon \/nonexistent\/addon\.node is not allowed.*NODEVOY_ALLOW_NATIVE_ADDONS=1/,
      signal: /process\.on\('SIGTERM'\) is not allowed.*signals belong to Envoy/,
      'signal-proto': /process\.on\('SIGINT'\) is not allowed/,
      capture: /process\.setUncaughtExceptionCaptureCallback is not allowed/,
      chdir: /process\.chdir\(\) is not allowed/,
      binding: /_linkedBinding\('nodevoy'\) is not allowed/,
    }
    for (const [action, message] of Object.entries(refusals)) {
      const { body } = await json(proxy, `/process/${action}`)
      t.equal(body.error, 'NODEVOY_ERR_NOT_ALLOWED', `${action}: refused with NODEVOY_ERR_NOT_ALLOWED`)
      t.match(body.message, message, `${action}: the message says what and why`)
    }
    t.same((await json(proxy, '/process/kill-probe')).body, { ok: true }, 'process.kill(pid, 0) (an existence check) still works')
    const { status } = await json(proxy, '/process/kill-uncaught')
    t.equal(status, 500, 'an uncaught refused kill costs its own request (500)')
    await stillHealthy(t, proxy)
    const exit = await proxy.stop()
    t.equal(exit.code, 0, 'SIGTERM still reaches Envoy after a filter tried to listen for it: drained, exit 0')
  }),
)

t.test('defect 3: an async hook rejecting with any value answers 500', (t) =>
  devHostOnly(t, async (t) => {
    const { proxy } = await start(t)
    for (const value of ['null-proto', 'stack-getter', 'proxy', 'undefined', 'symbol', 'not-a-result']) {
      const res = await request(`${proxy.url}/reject/${value}`, { headersTimeout: 5000 })
      await res.body.text()
      t.equal(res.statusCode, 500, `rejecting with ${value}: 500`)
    }
    await proxy.waitForLog(/onRequestHeaders failed on stream \d+: \[object Object\]/)
    await proxy.waitForLog(/onRequestHeaders failed on stream \d+: Symbol\(odd\)/)
    t.pass('the failures are logged, whatever the value')
    await stillHealthy(t, proxy)
  }),
)

t.test('defect 4: a refused sendLocalReply leaves the stream as it was', (t) =>
  devHostOnly(t, async (t) => {
    const { proxy, upstream } = await start(t)
    const before = upstream.heads.length
    const returned = await rawRequest(proxy.port, '/reply-bad/return')
    t.equal(returned.status, 200, 'catching the error and returning lets the request go on')
    t.equal(upstream.heads.length, before + 1, 'to the upstream')
    const fallback = await rawRequest(proxy.port, '/reply-bad/fallback')
    t.equal(fallback.status, 403, 'a fallback reply after the refused one is sent')
    t.equal(linesNamed(fallback.head, 'x-injected').length, 0, 'and carries no injected header')
    await stillHealthy(t, proxy)
  }),
)

t.test('defect 5: continueRequest() before the hook returns stop continues the request', (t) =>
  devHostOnly(t, async (t) => {
    const { proxy } = await start(t)
    for (const path of ['/continue-early', '/continue-early-async']) {
      const res = await request(`${proxy.url}${path}`, { headersTimeout: 5000 })
      t.equal(res.statusCode, 200, `${path}: reaches the upstream`)
      t.equal(await res.body.text(), 'ok')
    }
    await stillHealthy(t, proxy)
  }),
)

t.test('defect 6: dataPathStats() after the stream ended throws StreamGoneError', (t) =>
  devHostOnly(t, async (t) => {
    const { proxy } = await start(t, 1)  // one worker: /late sees the stream /keep kept
    t.equal((await json(proxy, '/keep')).status, 200)
    const late = await json(proxy, '/late')
    t.equal(late.body.error, 'NODEVOY_ERR_STREAM_GONE')
  }),
)

t.test('defect 7: invalid pseudo-header values are refused', (t) =>
  devHostOnly(t, async (t) => {
    const { proxy } = await start(t)
    const res = await rawRequest(proxy.port, `/status/${encodeURIComponent('abc')}`)
    t.equal(res.status, 200, ':status "abc" never reaches the client')
    t.equal(linesNamed(res.head, 'x-status-error')[0]?.toString(), 'x-status-error: NODEVOY_ERR_INVALID_ARGUMENT')
    for (const bad of ['99', '1000', '2x0', '']) {
      const r = await rawRequest(proxy.port, `/status/${encodeURIComponent(bad)}`)
      t.equal(r.status, 200, `:status ${JSON.stringify(bad)} refused`)
    }
    const good = await rawRequest(proxy.port, `/status/${encodeURIComponent('299')}`)
    t.equal(good.status, 299, 'a valid :status is set')
    const { body } = await json(proxy, '/pseudo')
    t.same(body, {
      method: 'NODEVOY_ERR_INVALID_ARGUMENT',
      path: 'NODEVOY_ERR_INVALID_ARGUMENT',
      pathRelative: 'NODEVOY_ERR_INVALID_ARGUMENT',
      authority: 'NODEVOY_ERR_INVALID_ARGUMENT',
      unknown: 'NODEVOY_ERR_INVALID_ARGUMENT',
      status: 'NODEVOY_ERR_INVALID_ARGUMENT',
      add: 'NODEVOY_ERR_INVALID_ARGUMENT',
      remove: 'NODEVOY_ERR_INVALID_ARGUMENT',
      empty: 'NODEVOY_ERR_INVALID_ARGUMENT',
    }, 'bad :method, :path, :authority, unknown pseudo-headers, add/remove of pseudo-headers and empty values are refused')
  }),
)

t.test('defect 8: changes inside onStreamComplete throw NODEVOY_ERR_STREAM_COMPLETE', (t) =>
  devHostOnly(t, async (t) => {
    const { proxy } = await start(t, 1)  // one worker: the report is module state of its environment
    t.equal((await json(proxy, '/complete')).status, 200)
    // onStreamComplete ran when that response ended.
    let report: Record<string, string> = {}
    for (let i = 0; i < 20 && Object.keys(report).length === 0; i++) report = (await json(proxy, '/complete-report')).body
    t.same(report, {
      reply: 'NODEVOY_ERR_STREAM_COMPLETE',
      set: 'NODEVOY_ERR_STREAM_COMPLETE',
      continueRequest: 'NODEVOY_ERR_STREAM_COMPLETE',
      continueResponse: 'NODEVOY_ERR_STREAM_COMPLETE',
    })
  }),
)
