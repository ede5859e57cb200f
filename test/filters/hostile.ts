// A careless or hostile filter (issue 7): every path tries something that used to inject headers,
// stop the proxy or strand the request. Paths (request headers hook unless said otherwise):
//   /header/<op>       op = set | add | reply: writes the header given as JSON in x-case
//                      ({"name": ..., "value": ...}); on an error answers 200 with {error: code}
//   /process/<action>  tries a process-level action and answers 200 with {error: code} or {ok: true};
//                      /process/kill-uncaught does process.kill(process.pid) without catching
//   /uncaught/<how>    sets up an error outside any hook (rethrowing listener, throwing monitor, ...)
//   /reject/<value>    an async hook rejecting with an odd value (null-prototype, throwing stack, ...)
//   /reply-bad/<then>  sendLocalReply with an invalid header, caught; then: 'return' | 'fallback'
//   /continue-early    continueRequest() before returning 'stop' (sync);  /continue-early-async (after an await)
//   /keep              keeps its stream for /late;  /late  calls the kept stream's dataPathStats()
//   /status/<value>    sets the response :status to <value> (decoded) in onResponseHeaders
//   /pseudo            tries invalid :method, :path, :authority, pseudo-header add/remove
//   /complete          its onStreamComplete tries writes; /complete-report answers what they threw
import { defineFilter, type Callbacks } from 'nodevoy'

function code(error: unknown): string {
  return (error as { code?: string })?.code ?? String((error as Error)?.name ?? error)
}

function answer(stream: Callbacks, value: unknown): void {
  stream.sendLocalReply(200, JSON.stringify(value), { 'content-type': 'application/json' })
}

function attempt(stream: Callbacks, action: () => void): void {
  try {
    action()
  } catch (error) {
    return answer(stream, { error: code(error), message: (error as Error).message })
  }
  answer(stream, { ok: true })
}

let kept: Callbacks | undefined
let completeReport: Record<string, string> = {}
// Per-stream notes, by stream id (hooks objects are shared by every stream of a worker).
const statusFor = new Map<number, string>()
const completeHeaders = new Map<number, { set(name: string, value: string): void }>()

export default defineFilter({
  name: 'hostile',
  create: () => ({
    async onRequestHeaders(headers, stream) {
      const path = headers.path ?? ''
      const [, group, arg] = path.split('/')
      if (group === 'header') {
        const { name, value } = JSON.parse(headers.get('x-case') ?? '{}') as { name: string; value: string }
        try {
          if (arg === 'set') headers.set(name, value)
          else if (arg === 'add') headers.add(name, value)
          else stream.sendLocalReply(200, 'ok', [[name, value]])
        } catch (error) {
          return answer(stream, { error: code(error), message: (error as Error).message })
        }
        return
      }
      if (group === 'process') {
        const p = process as unknown as Record<string, (...args: unknown[]) => unknown>
        switch (arg) {
          case 'kill-uncaught':
            process.kill(process.pid, 'SIGTERM')
            return
          case 'kill':
            return attempt(stream, () => process.kill(process.pid, 'SIGTERM'))
          case 'kill-group':
            return attempt(stream, () => process.kill(0, 'SIGKILL'))
          case 'kill-string-pid':
            return attempt(stream, () => process.kill(String(process.pid) as unknown as number, 'SIGKILL'))
          case 'kill-probe':
            return attempt(stream, () => process.kill(process.pid, 0))  // existence check: harmless, allowed
          case 'abort':
            return attempt(stream, () => process.abort())
          case 'really-exit':
            return attempt(stream, () => p.reallyExit!(1))
          case 'dlopen':
            return attempt(stream, () => process.dlopen({ exports: {} } as NodeJS.Module, '/nonexistent/addon.node'))
          case 'signal':
            return attempt(stream, () => process.on('SIGTERM', () => {}))
          case 'signal-proto':
            return attempt(stream, () => process.addListener('SIGINT', () => {}))
          case 'capture':
            return attempt(stream, () => process.setUncaughtExceptionCaptureCallback(null))
          case 'chdir':
            return attempt(stream, () => process.chdir('/'))
          case 'binding':
            return attempt(stream, () => (process as unknown as { _linkedBinding(n: string): unknown })._linkedBinding('nodevoy'))
        }
      }
      if (group === 'uncaught') {
        if (arg === 'rethrow') {
          process.removeAllListeners('uncaughtException')
          process.on('uncaughtException', (error) => {
            throw error
          })
          setTimeout(() => {
            throw new Error('thrown in a timer after the listeners were replaced')
          }, 1)
        } else if (arg === 'monitor') {
          process.on('uncaughtExceptionMonitor', () => {
            throw new Error('a monitor that throws')
          })
          setTimeout(() => {
            throw new Error('thrown in a timer with a throwing monitor')
          }, 1)
        } else if (arg === 'rejection-listener') {
          process.on('unhandledRejection', (reason) => {
            throw reason
          })
          void Promise.reject(new Error('a rejection whose listener rethrows'))
        } else if (arg === 'tick') {
          process.nextTick(() => {
            throw new Error('thrown in a nextTick callback')
          })
        } else if (arg === 'null-proto') {
          setTimeout(() => {
            throw Object.create(null)
          }, 1)
        }
        return answer(stream, { ok: true })
      }
      if (group === 'reject') {
        await new Promise((resolve) => setTimeout(resolve, 1))
        if (arg === 'null-proto') throw Object.create(null)
        if (arg === 'stack-getter') {
          const error = new Error('stack getter throws')
          Object.defineProperty(error, 'stack', {
            get() {
              throw new Error('no stack for you')
            },
          })
          throw error
        }
        if (arg === 'proxy') {
          throw new Proxy({}, { getPrototypeOf: () => { throw new Error('trap') }, get: () => { throw new Error('trap') } })
        }
        if (arg === 'undefined') throw undefined
        if (arg === 'symbol') throw Symbol('odd')
        return 42 as never  // not a hook result
      }
      if (group === 'reply-bad') {
        try {
          stream.sendLocalReply(401, 'no', { 'x-bad': 'a\r\nx-injected: yes' })
        } catch {
          if (arg === 'fallback') stream.sendLocalReply(403, 'fallback')
        }
        return
      }
      if (group === 'continue-early') {
        stream.continueRequest()
        return 'stop'
      }
      if (group === 'continue-early-async') {
        await new Promise((resolve) => setTimeout(resolve, 2))
        stream.continueRequest()
        return 'stop'
      }
      if (group === 'keep') {
        kept = stream
        return
      }
      if (group === 'late') {
        return attempt(stream, () => kept!.dataPathStats())
      }
      if (group === 'pseudo') {
        const tries: Record<string, () => void> = {
          method: () => headers.set(':method', 'GET X'),
          path: () => headers.set(':path', '/a b'),
          pathRelative: () => headers.set(':path', 'a'),
          authority: () => headers.set(':authority', 'a/b'),
          unknown: () => headers.set(':bogus', 'x'),
          status: () => headers.set(':status', '200'),
          add: () => headers.add(':method', 'GET'),
          remove: () => headers.remove(':path'),
          empty: () => headers.set('x-empty', ''),
        }
        const results: Record<string, string> = {}
        for (const [name, action] of Object.entries(tries)) {
          try {
            action()
            results[name] = 'ok'
          } catch (error) {
            results[name] = code(error)
          }
        }
        return answer(stream, results)
      }
      if (group === 'status') {
        statusFor.set(stream.streamId, decodeURIComponent(arg ?? ''))
        return
      }
      if (group === 'complete') {
        completeHeaders.set(stream.streamId, headers)
        return
      }
      if (group === 'complete-report') return answer(stream, completeReport)
    },
    onResponseHeaders(headers, stream) {
      const status = statusFor.get(stream.streamId)
      if (status !== undefined) {
        statusFor.delete(stream.streamId)
        try {
          headers.set(':status', status)
        } catch (error) {
          headers.set('x-status-error', code(error))
        }
      }
    },
    onStreamComplete(stream) {
      const requestHeaders = completeHeaders.get(stream.streamId)
      if (requestHeaders === undefined) return
      completeHeaders.delete(stream.streamId)
      completeReport = {}
      const tries: Record<string, () => void> = {
        reply: () => stream.sendLocalReply(500, 'too late'),
        set: () => requestHeaders.set('x-late', 'yes'),
        continueRequest: () => stream.continueRequest(),
        continueResponse: () => stream.continueResponse(),
      }
      for (const [name, action] of Object.entries(tries)) {
        try {
          action()
          completeReport[name] = 'ok'
        } catch (error) {
          completeReport[name] = code(error)
        }
      }
    },
  }),
})
