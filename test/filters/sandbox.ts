// Misbehaves on request: x-fail: throw | reject | outside | exit. Otherwise lets the request through
// with x-sandbox: ok on the response.
import { defineFilter } from 'nodevoy'

export default defineFilter({
  name: 'sandbox',
  create: () => ({
    onRequestHeaders(headers) {
      const mode = headers.get('x-fail')
      if (mode === 'throw') throw new Error('filter threw on purpose')
      if (mode === 'reject') return Promise.reject(new Error('filter rejected on purpose'))
      if (mode === 'outside') {
        setTimeout(() => {
          throw new Error('thrown in a timer, outside any hook')
        }, 0)
        void Promise.reject(new Error('a promise nobody handles'))
      }
      if (mode === 'exit') process.exit(3)
    },
    onResponseHeaders(headers) {
      headers.set('x-sandbox', 'ok')
    },
  }),
})
