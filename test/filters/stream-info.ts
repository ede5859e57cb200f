// Stream info, metadata, filter state, route cache, console, the stream's AbortSignal and
// onStreamComplete (issue 9). A class filter: one instance per stream. Paths:
//   /info          response headers from stream.info, metadata and filter state set on the request
//   /reroute       rewrites :path to /direct and clears the route cache (the /direct route answers)
//   /console       console.log inside the hook (to Envoy's log, tagged with filter and stream)
//   /abort         waits 10 s on a timer tied to stream.signal (the client leaves before)
//   /deny          a local reply (its details show in onStreamComplete)
//   /report        what the last /abort and the last completed /info and /deny saw
import { setTimeout as sleep } from 'node:timers/promises'
import { defineFilter, type RequestHeaderMap, type ResponseHeaderMap, type Stream } from 'nodevoy'

const report: Record<string, string> = {}

export default defineFilter({
  name: 'stream-info',
  create: () =>
    class {
      readonly path: string
      constructor(stream: Stream) {
        this.path = stream.request.headers.path ?? ''
      }

      async onRequestHeaders(headers: RequestHeaderMap, stream: Stream) {
        if (this.path.startsWith('/info')) {
          stream.metadata.set('nodevoy.test', 'user', 'ada')
          stream.metadata.set('nodevoy.test', 'score', 42)
          stream.metadata.set('nodevoy.test', 'ok', true)
          stream.filterState.set('nodevoy.test.state', 'from the request')
        }
        if (this.path.startsWith('/reroute')) {
          headers.set(':path', '/direct')
          stream.clearRouteCache()
        }
        if (this.path.startsWith('/console')) console.log('hello from console', { n: 42 })
        if (this.path.startsWith('/abort')) {
          try {
            await sleep(10_000, undefined, { signal: stream.signal })
            report.abort = 'not aborted'
          } catch (error) {
            report.abort = `${(error as Error).name}: ${String((stream.signal.reason as Error)?.message)}`
          }
        }
        if (this.path.startsWith('/report')) return stream.sendLocalReply(200, JSON.stringify(report))
        if (this.path.startsWith('/deny')) return stream.sendLocalReply(403, 'no', {}, 'stream_info_denied')
      }

      onResponseHeaders(headers: ResponseHeaderMap, stream: Stream) {
        if (!this.path.startsWith('/info')) return
        const info = stream.info
        headers.set('x-source', `${info.sourceAddress}|${info.sourcePort}`)
        headers.set('x-destination', `${info.destinationAddress}|${info.destinationPort}`)
        headers.set('x-protocol', String(info.protocol))
        headers.set('x-route', `${info.routeName}|${info.clusterName}`)
        headers.set('x-response-code', String(info.responseCode))
        headers.set('x-meta', [stream.metadata.get('nodevoy.test', 'user'), stream.metadata.get('nodevoy.test', 'score'), stream.metadata.get('nodevoy.test', 'ok')].join('|'))
        headers.set('x-route-meta', String(stream.metadata.get('nodevoy.route', 'tier', 'route')))
        headers.set('x-state', String(stream.filterState.get('nodevoy.test.state')))
        headers.set('x-request-header-from-response', String(stream.request.headers.get('x-client')))
      }

      onStreamComplete(stream: Stream) {
        if (this.path.startsWith('/info') || this.path.startsWith('/deny')) {
          report[this.path.slice(1)] = `${stream.info.responseCode} ${stream.info.responseCodeDetails} aborted=${stream.signal.aborted}`
        }
      }
    },
})
