// Patterns that stress how hooks nest and how the event loop is driven:
//   /reply           sendLocalReply, then more JS in the same hook (Envoy encodes the reply, and runs
//                    onStreamComplete, only after the hook returns)
//   /stop-micro      'stop', continued from a microtask      /stop-tick   ... from process.nextTick
//   /stop-timer      'stop', continued from a timer          /stop-unref  ... from an unref'd timer
//   /stop-abort      'stop', continued by AbortSignal.timeout (an unref'd timer inside Node)
//   /ticks           how often the background interval fired, and how many onStreamComplete ran nested
import { z } from 'zod'
import { defineFilter } from 'nodevoy'

export default defineFilter({
  name: 'reentrancy',
  config: z.object({ intervalMs: z.number().int().positive().optional(), asyncComplete: z.boolean().default(false) }),
  create(config) {
    let ticks = 0
    let nested = 0
    let inHook = false
    if (config.intervalMs) setInterval(() => ticks++, config.intervalMs)
    return {
      onRequestHeaders(headers, stream) {
        const path = headers.path ?? ''
        if (path.startsWith('/ticks')) return stream.sendLocalReply(200, JSON.stringify({ ticks, nested }))
        if (path.startsWith('/reply')) {
          inHook = true
          stream.sendLocalReply(403, 'no')
          inHook = false
          let x = 0
          for (let i = 0; i < 100_000; i++) x += i
          return x > 0 ? undefined : undefined
        }
        if (path.startsWith('/stop-micro')) {
          void Promise.resolve().then(() => stream.continueRequest())
          return 'stop'
        }
        if (path.startsWith('/stop-tick')) {
          process.nextTick(() => stream.continueRequest())
          return 'stop'
        }
        if (path.startsWith('/stop-timer')) {
          setTimeout(() => stream.continueRequest(), 5)
          return 'stop'
        }
        if (path.startsWith('/stop-unref')) {
          setTimeout(() => stream.continueRequest(), 20).unref()
          return 'stop'
        }
        if (path.startsWith('/stop-abort')) {
          AbortSignal.timeout(20).addEventListener('abort', () => stream.continueRequest())
          return 'stop'
        }
      },
      onStreamComplete() {
        if (inHook) nested++
        if (config.asyncComplete) return new Promise<void>((resolve) => setTimeout(resolve, 5)) as never
      },
    }
  },
})
