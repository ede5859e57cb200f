// Feeds arbitrary values into the SDK's calls that reach libnodevoy (issue 11's fuzz run): each
// request carries a list of calls in x-ops (JSON, ASCII-escaped); each runs inside try/catch and the
// outcome (ok, or the error's code/name) is answered as JSON. Whatever the values, the stream is
// answered and the proxy stays up.
import { defineFilter, type Stream } from 'nodevoy'

type Op = { op: string; args: unknown[] }

function run(stream: Stream, headers: { set(n: unknown, v: unknown): void; add(n: unknown, v: unknown): void; remove(n: unknown): void }, { op, args }: Op): void {
  const [a, b, c, d] = args as [never, never, never, never]
  switch (op) {
    case 'set': return headers.set(a, b)
    case 'add': return headers.add(a, b)
    case 'remove': return headers.remove(a)
    case 'reply': return stream.sendLocalReply(a, b, c, d)
    case 'metadata.set': return stream.metadata.set(a, b, c)
    case 'metadata.get': return void stream.metadata.get(a, b, c)
    case 'filterState.set': return stream.filterState.set(a, b)
    case 'filterState.get': return void stream.filterState.get(a)
    case 'body.replace': return stream.request.body.replace(a)
    case 'continue': return stream.continueRequest()
    case 'log': return stream.log(a, b)
    case 'trailers.set': return stream.request.trailers.set(a, b)
  }
}

export default defineFilter({
  name: 'fuzz',
  create: () => ({
    onRequestHeaders(headers, stream) {
      const ops = JSON.parse(headers.get('x-ops') ?? '[]') as Op[]
      const outcomes: string[] = []
      for (const op of ops) {
        try {
          run(stream, headers as never, op)
          outcomes.push('ok')
        } catch (error) {
          outcomes.push(String((error as { code?: string })?.code ?? (error as Error)?.name ?? 'thrown'))
        }
      }
      try {
        stream.sendLocalReply(200, JSON.stringify(outcomes))
      } catch {
        // an op already answered the stream
      }
    },
  }),
})
