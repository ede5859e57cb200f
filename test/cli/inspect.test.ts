// nodevoy dev --inspect: Node's inspector on the worker's environment inside the dev host
// (NODEVOY_INSPECT in libnodevoy). A debugger client connects over the Chrome DevTools Protocol,
// evaluates in the embedded runtime, sees the bundle with its source map, and stops a request at a
// `debugger` statement in a hook, reads its locals, and lets it go on.
import t from 'tap'
import { request } from 'undici'
import WebSocket from 'ws'
import { dev } from '../../scripts/commands/dev.js'
import { testRuntime } from '../harness/paths.js'
import { scratchDir, writeSource } from '../harness/scratch.js'

interface CdpMessage {
  id?: number
  method?: string
  params?: Record<string, unknown>
  result?: Record<string, unknown>
  error?: { message: string }
}

class CdpClient {
  #nextId = 0
  #waiters: ((message: CdpMessage) => boolean)[] = []
  readonly events: CdpMessage[] = []
  constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as CdpMessage
      if (message.method) this.events.push(message)
      this.#waiters = this.#waiters.filter((waiter) => !waiter(message))
    })
  }
  static async connect(url: string): Promise<CdpClient> {
    const socket = new WebSocket(url)
    await new Promise((resolve, reject) => {
      socket.once('open', resolve)
      socket.once('error', reject)
    })
    return new CdpClient(socket)
  }
  call(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = ++this.#nextId
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${method} in 10 s`)), 10_000)
      this.#waiters.push((message) => {
        if (message.id !== id) return false
        clearTimeout(timer)
        if (message.error) reject(new Error(`${method}: ${message.error.message}`))
        else resolve(message.result ?? {})
        return true
      })
      this.socket.send(JSON.stringify({ id, method, params }))
    })
  }
  event(method: string, match: (params: Record<string, unknown>) => boolean = () => true): Promise<Record<string, unknown>> {
    const seen = this.events.find((e) => e.method === method && match(e.params ?? {}))
    if (seen) return Promise.resolve(seen.params ?? {})
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${method} event in 10 s`)), 10_000)
      this.#waiters.push((message) => {
        if (message.method !== method || !match(message.params ?? {})) return false
        clearTimeout(timer)
        resolve(message.params ?? {})
        return true
      })
    })
  }
}

t.test('nodevoy dev --inspect: a debugger attaches to the worker environment and stops a request', async (t) => {
  const entry = writeSource(
    scratchDir(t, 'inspect'),
    'filter.ts',
    `import { defineFilter } from 'nodevoy'
export default defineFilter({
  name: 'debugged',
  create: (_config, { workerIndex }) => {
    ;(globalThis as { createdOnWorker?: number }).createdOnWorker = workerIndex
    return {
    onRequestHeaders(headers) {
      const probe = headers.get('x-probe') ?? 'none'
      debugger
      headers.set('x-seen', probe)
    },
    }
  },
})
`,
  )
  const lines: string[] = []
  const session = await dev(entry, { port: 0, concurrency: 2, inspect: '127.0.0.1:0', watch: false, log: (l) => lines.push(l), onOutput: () => {} })
  t.teardown(() => session.stop())
  t.match(lines.join('\n'), /--inspect runs one worker/, 'one worker, so every request meets the debugger')
  t.match(session.inspectorUrl, /^ws:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]+$/, `inspector at ${session.inspectorUrl}`)
  t.match(lines.join('\n'), /debugger on ws:\/\/127\.0\.0\.1:\d+\/.* \(worker 0; open chrome:\/\/inspect/)

  const port = new URL(session.inspectorUrl!).port
  const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { type: string; webSocketDebuggerUrl: string }[]
  t.equal(list.length, 1, '/json/list answers with one target')
  t.equal(list[0]!.type, 'node')
  t.equal(list[0]!.webSocketDebuggerUrl, session.inspectorUrl)

  const cdp = await CdpClient.connect(session.inspectorUrl!)
  t.teardown(() => cdp.socket.close())
  await cdp.call('Runtime.enable')
  const version = await cdp.call('Runtime.evaluate', { expression: 'process.version' })
  t.match((version.result as { value: string }).value, new RegExp(`^v${testRuntime.nodeVersion.split('.')[0]}\\.`), `evaluated in the embedded Node (${testRuntime.name})`)
  const worker = await cdp.call('Runtime.evaluate', { expression: 'globalThis.createdOnWorker' })
  t.equal((worker.result as { value: number }).value, 0, "in worker 0's environment (its create() ran there)")

  await cdp.call('Debugger.enable')
  const script = await cdp.event('Debugger.scriptParsed', (p) => String(p.url).endsWith('bundle.js'))
  t.equal(script.sourceMapURL, 'bundle.js.map', 'the bundle is seen with its source map (TypeScript in the debugger)')

  const pending = request(session.url, { headers: { 'x-probe': 'hello' } })
  const paused = await cdp.event('Debugger.paused')
  const frame = (paused.callFrames as { callFrameId: string; functionName: string; url: string }[])[0]!
  t.equal(frame.functionName, 'onRequestHeaders', 'stopped in the hook')
  const local = await cdp.call('Debugger.evaluateOnCallFrame', { callFrameId: frame.callFrameId, expression: 'probe' })
  t.equal((local.result as { value: string }).value, 'hello', "the hook's local variable, read in the debugger")
  await cdp.call('Debugger.resume')
  const res = await pending
  await res.body.text()
  t.equal(res.statusCode, 200, 'the request went on after resume')
})
