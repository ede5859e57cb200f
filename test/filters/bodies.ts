// Bodies and trailers through the SDK (issue 9). One class filter (an instance per stream), paths:
//   /json        awaits the request body as JSON in onRequestHeaders: 400 unless it has a string
//                `name`; else rewrites it to {"name", "greeting"} (the upstream sees the new body)
//   /upper       awaits the response body in onResponseHeaders and sends it upper-cased
//   /count       onRequestBody counts chunks and bytes (and x-x → x-y, same length), reports them in
//                response headers; trailers: reads x-t, adds x-seen (request), adds x-resp-seen (response)
//   /stream      a for-await loop hashes the request body as it passes (sha256 in a response header)
//   /late-reply  sendLocalReply from onResponseBody after the response headers went downstream
//   /resp-reply  sendLocalReply from onResponseHeaders (before they went downstream): it replaces the response
//   /passthrough touches nothing (no body crossing)
import { createHash } from 'node:crypto'
import { defineFilter, type BodyChunk, type RequestHeaderMap, type ResponseHeaderMap, type Stream, type TrailerMap } from 'nodevoy'

export default defineFilter({
  name: 'bodies',
  create: () =>
    class {
      readonly path: string
      chunks = 0
      bytes = 0
      sawEnd = false
      hashed: Promise<string> | undefined

      constructor(stream: Stream) {
        this.path = stream.request.headers.path ?? ''
      }

      async onRequestHeaders(headers: RequestHeaderMap, stream: Stream) {
        if (this.path.startsWith('/json')) {
          let parsed: unknown
          try {
            parsed = await stream.request.body.json()
          } catch (error) {
            return stream.sendLocalReply(400, `invalid JSON: ${(error as Error).message}`)
          }
          const name = (parsed as { name?: unknown })?.name
          if (typeof name !== 'string') return stream.sendLocalReply(400, 'a string "name" is required')
          stream.request.body.replace(JSON.stringify({ name, greeting: `hello ${name}` }))
          headers.set('x-validated', 'yes')
        }
        if (this.path.startsWith('/stream')) {
          const body = stream.request.body
          this.hashed = (async () => {
            const hash = createHash('sha256')
            let n = 0
            for await (const chunk of body) {
              hash.update(chunk)
              n += chunk.length
              if (n % (8 << 20) < chunk.length) await new Promise((r) => setTimeout(r, 1))  // a slow consumer, now and then
            }
            return `${hash.digest('hex')}:${n}`
          })()
          this.hashed.catch(() => {})
        }
      }

      onRequestBody(chunk: BodyChunk, _stream: Stream, endOfStream: boolean) {
        if (!this.path.startsWith('/count')) return
        const bytes = chunk.bytes()
        this.chunks++
        this.bytes += bytes.length
        if (endOfStream) this.sawEnd = true
        const text = Buffer.from(bytes).toString('latin1')
        if (text.includes('x-x')) chunk.replace(text.replaceAll('x-x', 'x-y'))
      }

      onRequestTrailers(trailers: TrailerMap) {
        if (!this.path.startsWith('/count')) return
        trailers.set('x-seen', `t=${trailers.get('x-t') ?? 'none'}`)
      }

      async onResponseHeaders(headers: ResponseHeaderMap, stream: Stream) {
        if (this.path.startsWith('/resp-reply')) return stream.sendLocalReply(418, `replaced a ${headers.status}`)
        if (this.path.startsWith('/upper')) {
          const text = await stream.response.body.text()
          stream.response.body.replace(text.toUpperCase())
          headers.set('x-rewritten', 'yes')
        }
        if (this.path.startsWith('/count')) {
          headers.set('x-request-chunks', String(this.chunks))
          headers.set('x-request-bytes', String(this.bytes))
          headers.set('x-request-end', String(this.sawEnd))
        }
        if (this.path.startsWith('/stream')) headers.set('x-request-sha256', (await this.hashed) ?? 'none')
        if (this.path.startsWith('/passthrough')) {
          const { crossings, bytesCopied } = stream.dataPathStats()
          headers.set('x-stats', `${crossings},${bytesCopied}`)
        }
      }

      onResponseBody(_chunk: BodyChunk, stream: Stream) {
        if (this.path.startsWith('/late-reply')) stream.sendLocalReply(503, 'too late')
      }

      onResponseTrailers(trailers: TrailerMap) {
        if (this.path.startsWith('/count')) trailers.add('x-resp-seen', String(trailers.get('x-upstream-trailer')))
      }
    },
})
