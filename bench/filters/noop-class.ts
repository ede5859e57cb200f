// The cheapest per-stream TS filter: a class (one instance per stream) whose request-headers hook
// lets the request go on. Against bench/filters/noop.ts it prices the per-stream instance.
import { defineFilter } from 'nodevoy'

export default defineFilter({
  name: 'noop-class',
  create: () =>
    class {
      seen = 0
      onRequestHeaders() {
        this.seen++
      }
    },
})
