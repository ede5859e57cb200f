// Sets one response header and nothing else: a write crossing with no read.
import { defineFilter } from 'nodevoy'

export default defineFilter({
  name: 'set-response-header',
  create: () => ({
    onResponseHeaders(headers) {
      headers.set('x-bench', '1')
    },
  }),
})
