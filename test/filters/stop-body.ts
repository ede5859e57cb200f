// 'stop' holds the whole direction — headers, body and trailers — until continue (issue 8, M3):
// each hook stops, and a timer continues after setting a header that shows when it happened.
import { defineFilter } from 'nodevoy'

export default defineFilter({
  name: 'stop-body',
  create: () => ({
    onRequestHeaders(headers, stream) {
      setTimeout(() => {
        headers.set('x-request-continued', 'yes')
        stream.continueRequest()
      }, 150)
      return 'stop'
    },
    onResponseHeaders(headers, stream) {
      setTimeout(() => {
        headers.set('x-response-continued', 'yes')
        stream.continueResponse()
      }, 150)
      return 'stop'
    },
  }),
})
