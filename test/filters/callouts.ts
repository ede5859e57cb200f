// Callouts through Envoy clusters (issue 10), driven by the request:
//   x-cluster, x-path           where the callout goes (default cluster `service`, path `/echo`)
//   x-method, x-body            its method and body; x-buffered: 1 for a one-shot (http_callout) callout
//   x-body-chunks: n            a streamed request body of n chunks (a ReadableStream), x-trailer: v adds trailers
//   x-timeout: ms               Envoy's callout timeout
//   x-abort-after: ms           abort it with an AbortSignal after ms
//   x-detach: key               start the callout, let the request go on; record in the shared store (key)
//                               how the callout ended (the stream's end aborts it)
//   x-read-shared: key          reply with the shared store's value under key (x-shared)
// The reply: 200 with x-callout-status, x-callout-body (first 200 bytes), x-callout-chunks,
// x-callout-trailer, x-callout-header-*; or 502 with x-error-name, x-error-reason, x-error-message.
import { defineFilter } from 'nodevoy'

export default defineFilter({
  name: 'callouts',
  create: (_config, context) => {
    // Node loads its web streams on first use (tens of ms of CPU): here, not inside a hook's budget.
    void globalThis.ReadableStream
    return {
    async onRequestHeaders(headers, stream) {
      const read = headers.get('x-read-shared')
      if (read) {
        stream.sendLocalReply(200, '', { 'x-shared': String(context.shared.get(read) ?? '') })
        return undefined
      }
      const cluster = headers.get('x-cluster') ?? 'service'
      const path = headers.get('x-path') ?? '/echo'
      const chunksWanted = headers.has('x-body-chunks') ? Number(headers.get('x-body-chunks')) : 0
      const trailer = headers.get('x-trailer')
      let body: string | ReadableStream<Uint8Array> | undefined = headers.get('x-body')
      if (chunksWanted > 0) {
        let sent = 0
        body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            await new Promise((r) => setTimeout(r, 5))
            controller.enqueue(new TextEncoder().encode(`chunk${sent}|`))
            if (++sent === chunksWanted) controller.close()
          },
        })
      }
      const signal = headers.has('x-abort-after') ? AbortSignal.timeout(Number(headers.get('x-abort-after'))) : undefined
      const started = stream.fetch(cluster, path, {
        method: headers.get('x-method'),
        headers: { 'x-from-filter': 'yes', ...(headers.has('x-forward') ? { 'x-forwarded-value': headers.get('x-forward')! } : {}) },
        body,
        trailers: trailer ? { 'x-request-trailer': trailer } : undefined,
        buffered: headers.get('x-buffered') === '1',
        timeoutMs: headers.has('x-timeout') ? Number(headers.get('x-timeout')) : undefined,
        signal,
      })
      const detachKey = headers.get('x-detach')
      if (detachKey) {
        started.then(
          async (res) => {
            await res.text()
            context.shared.set(detachKey, `completed ${res.status}`)
          },
          (error: Error) => context.shared.set(detachKey, `${error.name}: ${error.message}`),
        )
        return 'continue'
      }
      try {
        const res = await started
        let chunks = 0
        let text = ''
        const reader = res.body?.getReader()
        if (reader) {
          const decoder = new TextDecoder()
          for (;;) {
            const { done, value } = await reader.read()
            if (done) break
            chunks++
            text += decoder.decode(value, { stream: true })
          }
        }
        const trailers = await res.trailers
        const extra: Record<string, string> = {
          'x-callout-status': String(res.status),
          'x-callout-body': encodeURIComponent(text.slice(0, 200)),
          'x-callout-length': String(text.length),
          'x-callout-chunks': String(chunks),
          'x-callout-trailer': trailers.get('x-response-trailer') ?? '',
        }
        for (const [name, value] of res.headers) if (name.startsWith('x-seen-')) extra[`x-callout-header-${name.slice(7)}`] = value
        stream.sendLocalReply(200, '', extra)
      } catch (error) {
        const e = error as Error & { reason?: string; code?: string }
        stream.sendLocalReply(502, '', {
          'x-error-name': e.name,
          'x-error-reason': String(e.reason ?? ''),
          'x-error-code': String(e.code ?? ''),
          'x-error-message': encodeURIComponent(String(e.message).slice(0, 300)),
        })
      }
      return undefined
    },
  }
  },
})
