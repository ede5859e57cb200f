// Reports which worker and which Node environment ran the request.
import { randomUUID } from 'node:crypto'
import { defineFilter } from 'nodevoy'

const environmentId = randomUUID()  // module state: one per Node environment
let requests = 0

export default defineFilter({
  name: 'worker-identity',
  create: (_config, context) => ({
    onResponseHeaders(headers, stream) {
      requests++
      headers.set('x-worker', String(stream.workerIndex))
      headers.set('x-created-for-worker', String(context.workerIndex))
      headers.set('x-environment', environmentId)
      headers.set('x-environment-requests', String(requests))
      headers.set('x-webcrypto', typeof globalThis.crypto?.subtle?.digest)
    },
  }),
})
