// An async request-headers hook that awaits an already-resolved value: the cost of the promise path
// (a Pending action, the microtask drain, settling in the same hook) with no I/O.
import { defineFilter } from 'nodevoy'

const ready = Promise.resolve(1)

export default defineFilter({
  name: 'async-resolved',
  create: () => ({
    async onRequestHeaders() {
      await ready
    },
  }),
})
