// Keeps stream objects past the stream's end and records what touching them does.
//   GET /keep?delay=N     onRequestHeaders keeps the header map and callbacks; N ms after the
//                         response, touches them and records the outcome
//   GET /slow?delay=N     an async hook that waits N ms, then touches the headers (the client may
//                         have gone by then) and records the outcome
//   GET /report           answers with the recorded outcomes as JSON
import { defineFilter, StreamGoneError } from 'nodevoy'

const outcomes: string[] = []

function attempt(label: string, action: () => unknown): void {
  try {
    action()
    outcomes.push(`${label}:ok`)
  } catch (error) {
    const code = (error as { code?: string }).code
    outcomes.push(`${label}:${error instanceof StreamGoneError ? 'StreamGoneError' : 'other'}:${code}`)
  }
}

export default defineFilter({
  name: 'lifetime',
  create: () => ({
    async onRequestHeaders(headers, stream) {
      const path = headers.path ?? ''
      const delay = Number(new URL(path, 'http://x').searchParams.get('delay') ?? '50')
      if (path.startsWith('/report')) {
        stream.sendLocalReply(200, JSON.stringify(outcomes), { 'content-type': 'application/json' })
        return
      }
      if (path.startsWith('/keep')) {
        const value = headers.get(':path')
        setTimeout(() => {
          attempt('read-after-end', () => headers.get('x-anything'))
          attempt('write-after-end', () => headers.set('x-late', '1'))
          attempt('reply-after-end', () => stream.sendLocalReply(200))
          outcomes.push(`kept-value:${value}`)
        }, delay)
        return
      }
      if (path.startsWith('/slow')) {
        await new Promise((resolve) => setTimeout(resolve, delay))
        attempt('after-await', () => headers.set('x-after-await', '1'))
      }
    },
  }),
})
