// Reads some request headers, then reports what that cost: crossings and bytes copied, as seen at
// the end of onRequestHeaders (x-stats-request) and at onResponseHeaders (x-stats-response); and,
// for the previous stream, at onStreamComplete (GET /last-stats answers it).
import { defineFilter } from 'nodevoy'

export default defineFilter({
  name: 'read-headers',
  create: () => {
    const atRequest = new WeakMap<object, string>()
    let lastComplete = 'none'
    return {
      onRequestHeaders(headers, stream) {
        if (headers.path === '/last-stats') return stream.sendLocalReply(200, lastComplete)
        const seen = ['x-a', 'x-b', 'authorization'].map((name) => headers.get(name) ?? '-')
        const { crossings, bytesCopied } = stream.dataPathStats()
        atRequest.set(stream, `${crossings},${bytesCopied},${seen.join('|')}`)
      },
      onResponseHeaders(headers, stream) {
        const { crossings, bytesCopied } = stream.dataPathStats()
        headers.set('x-stats-request', atRequest.get(stream) ?? 'none')
        headers.set('x-stats-response', `${crossings},${bytesCopied}`)
      },
      onStreamComplete(stream) {
        const { crossings, bytesCopied } = stream.dataPathStats()
        lastComplete = `${crossings},${bytesCopied}`
      },
    }
  },
})
