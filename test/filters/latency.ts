// Per-stream instances (issue 9): the start time lives in the instance, so concurrent streams on
// one worker never see each other's.
import { defineFilter, type ResponseHeaderMap } from 'nodevoy'

export default defineFilter({
  name: 'latency',
  create: () =>
    class {
      start = performance.now()
      onResponseHeaders(headers: ResponseHeaderMap) {
        headers.set('x-latency-ms', (performance.now() - this.start).toFixed(1))
      }
    },
})
