// Faults a filter can commit that only the sandbox can contain (issue 11): loops in every place JS
// runs, heap blow-ups, hooks that never settle. Paths (request headers hook):
//   /loop-sync           while (true) in the hook itself
//   /loop-async          while (true) in an async continuation (a microtask)
//   /loop-microtasks     a microtask chain that never ends
//   /loop-ticks          a nextTick callback that queues itself forever
//   /loop-timer          while (true) in a timer callback (outside any hook); the request itself is fine
//   /loop-complete       while (true) in onStreamComplete
//   /heap-fast           allocates until the heap runs out, in the hook
//   /heap-slow           grows a module-level cache by ~4 MB per request
//   /never-settles       awaits a promise that never settles
//   /never-continues     returns 'stop' and never continues
//   /signal-report       how the last never-settling hook's stream.signal ended
//   anything else        passes (x-env: this environment's id, to see rebuilds)
import { randomUUID } from 'node:crypto'
import { defineFilter, type RequestHeaderMap, type Stream } from 'nodevoy'

const environment = randomUUID()
const cache: number[][] = []
let signalReport = 'none'

function spin(): never {
  for (;;) {
    // burns CPU until the watchdog stops it
  }
}

export default defineFilter({
  name: 'faults',
  create: () => ({
    async onRequestHeaders(headers: RequestHeaderMap, stream: Stream) {
      const path = headers.path ?? ''
      headers.set('x-env', environment)
      if (path === '/loop-sync') spin()
      if (path === '/loop-async') {
        await Promise.resolve()
        spin()
      }
      if (path === '/loop-microtasks') {
        const again = (): Promise<void> => Promise.resolve().then(again)
        await again()
      }
      if (path === '/loop-ticks') {
        const again = () => process.nextTick(again)
        again()
        return
      }
      if (path === '/loop-timer') {
        setTimeout(spin, 100)
        return
      }
      if (path === '/heap-fast') {
        const hog: number[][] = []
        for (;;) hog.push(new Array(1e6).fill(1.5))
      }
      if (path === '/heap-slow') cache.push(new Array(5e5).fill(Math.random()))
      if (path === '/never-settles') {
        stream.signal.addEventListener('abort', () => {
          signalReport = `${(stream.signal.reason as Error).name}: ${(stream.signal.reason as Error).message}`
        })
        await new Promise(() => {})
      }
      if (path === '/never-continues') return 'stop'
      if (path === '/signal-report') return stream.sendLocalReply(200, signalReport)
    },
    onResponseHeaders(headers) {
      headers.set('x-env', environment)
    },
    onStreamComplete(stream) {
      if (stream.request.headers.path === '/loop-complete') spin()
    },
  }),
})
