// Async hooks: waits on a timer, then optionally on fetch() to a local server, then edits the
// request; records the order of events per stream in x-trace (response) and x-trace-request
// (what the upstream sees).
import { z } from 'zod'
import { defineFilter } from 'nodevoy'

const traces = new WeakMap<object, string[]>()

export default defineFilter({
  name: 'async',
  config: z.object({ fetchUrl: z.string().url().optional() }),
  create: (config) => ({
    async onRequestHeaders(headers, stream) {
      const trace = ['request']
      traces.set(stream, trace)
      const id = headers.get('x-id') ?? 'none'
      await new Promise((resolve) => setTimeout(resolve, Number(headers.get('x-delay') ?? '5')))
      trace.push('after-timer')
      if (config.fetchUrl) {
        const res = await fetch(`${config.fetchUrl}/id/${id}`)
        const body = (await res.json()) as { url: string }
        trace.push(`after-fetch:${body.url.split('/').pop()}`)
      }
      headers.set('x-trace-request', trace.join(','))
    },
    onResponseHeaders(headers, stream) {
      const trace = traces.get(stream) ?? []
      trace.push('response')
      headers.set('x-trace', trace.join(','))
      headers.set('x-worker', String(stream.workerIndex))
    },
  }),
})
