// Tags responses with its config's version; waits first when asked (x-wait-ms), so a request can be
// in flight across a reload.
import { z } from 'zod'
import { defineFilter } from 'nodevoy'

let liveInstances = 0  // per Node environment: instances created and not yet destroyed

export default defineFilter({
  name: 'version',
  config: z.object({ version: z.string() }),
  create: (config) => (liveInstances++, {
    onDestroy() {
      liveInstances--
    },
    async onRequestHeaders(headers) {
      const wait = Number(headers.get('x-wait-ms') ?? '0')
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    },
    onResponseHeaders(headers) {
      headers.set('x-version', config.version)
      headers.set('x-live-instances', String(liveInstances))
    },
  }),
})
