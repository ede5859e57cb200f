// The filter behind the scenario table (table.ts): one behaviour per scenario, chosen by the request's
// x-scenario header, so the same bundle runs every scenario through the testing kit and the dev host.
import { setTimeout as sleep } from 'node:timers/promises'
import { z } from 'zod'
import { defineFilter } from 'nodevoy'

export default defineFilter({
  name: 'scenarios',
  config: z.object({ greeting: z.string().default('hello') }).default({ greeting: 'hello' }),
  routeConfig: z.object({ greeting: z.string() }),
  metrics: { seen: { type: 'counter', labels: { scenario: 'any' }, maxSeries: 50 } },
  create: (config, context) => ({
    async onRequestHeaders(headers, stream) {
      const scenario = headers.get('x-scenario') ?? ''
      context.metrics.seen.inc({ scenario })
      switch (scenario) {
        case 'headers':
          headers.set('x-added', 'yes')
          headers.remove('x-remove')
          return undefined
        case 'deny':
          stream.sendLocalReply(403, 'denied', { 'x-reason': 'policy' }, 'filter_denied')
          return undefined
        case 'async-deny':
          await sleep(5)
          stream.sendLocalReply(401, 'later', { 'www-authenticate': 'Basic' })
          return undefined
        case 'async-continue':
          await sleep(5)
          headers.set('x-after-await', 'yes')
          return undefined
        case 'stop-continue':
          headers.set('x-stopped', 'yes')
          setTimeout(() => stream.continueRequest(), 5)
          return 'stop'
        case 'rewrite-request-body': {
          const json = (await stream.request.body.json()) as Record<string, unknown>
          stream.request.body.replace(JSON.stringify({ ...json, checked: true }))
          return undefined
        }
        case 'replace-response':
          return undefined
        case 'throw':
        case 'throw-after-await':
          if (scenario === 'throw-after-await') await sleep(1)
          throw new Error('the filter failed on purpose')
        case 'metadata':
          stream.metadata.set('scenario', 'who', 'metadata')
          stream.filterState.set('scenario.state', 'kept')
          return undefined
        case 'shared-count': {
          const count = context.shared.increment(`scenario:${headers.get('x-key')}`, 1, { ttlMs: 60000 })
          headers.set('x-count', String(count))
          return undefined
        }
        case 'route':
          headers.set('x-greeting', (context.routeConfig(stream) as { greeting: string }).greeting)
          return undefined
        case 'callout': {
          const res = await stream.fetch('service', '/check?from=filter', { method: 'POST', body: 'ping', headers: { 'x-check': 'yes' } })
          headers.set('x-callout', `${res.status} ${await res.text()}`)
          return undefined
        }
        case 'callout-unknown-cluster':
          try {
            await stream.fetch('nowhere', '/')
          } catch (error) {
            stream.sendLocalReply(502, String((error as { reason?: string }).reason))
          }
          return undefined
        case 'bad-header':
          try {
            headers.set('x-bad', 'line\nbreak')
          } catch (error) {
            stream.sendLocalReply(400, (error as Error).message)
          }
          return undefined
        case 'too-large':
          await stream.request.body.bytes()
          return undefined
        default:
          return undefined
      }
    },
    async onResponseHeaders(headers, stream) {
      const scenario = stream.request.headers.get('x-scenario')
      headers.set('x-filter', config.greeting)
      if (scenario === 'headers') headers.set('x-response', 'set')
      if (scenario === 'metadata') {
        headers.set('x-metadata', String(stream.metadata.get('scenario', 'who')))
        headers.set('x-state', stream.filterState.get('scenario.state') ?? '')
      }
      if (scenario === 'replace-response') {
        const text = await stream.response.body.text()
        stream.response.body.replace(`rewritten:${text}`)
      }
      if (scenario === 'throw-response') throw new Error('the response hook failed on purpose')
      return undefined
    },
    onResponseBody(chunk, stream) {
      if (stream.request.headers.get('x-scenario') === 'uppercase-response') chunk.replace(chunk.text().toUpperCase())
      return undefined
    },
    onResponseTrailers(trailers, stream) {
      if (stream.request.headers.get('x-scenario') === 'response-trailers') trailers.set('x-trailer-seen', trailers.get('x-upstream-trailer') ?? 'none')
      return undefined
    },
  }),
})
