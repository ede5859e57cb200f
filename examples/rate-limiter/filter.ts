// A per-client rate limit that holds across Envoy's workers: a fixed window of `limit` requests per
// `windowMs`, counted in the state shared by every worker (each worker runs its own Node environment,
// so a module-level counter would count per worker). Routes can set their own limit or turn it off.
import { z } from 'zod'
import { defineFilter } from 'nodevoy'

const Config = z.object({
  /** Requests a client may make per window. */
  limit: z.number().int().positive(),
  windowMs: z.number().int().min(1000).default(60000),
  /** Who a client is: the value of this request header, or the client's address when absent. */
  clientHeader: z.string().regex(/^[a-z0-9-]+$/, 'must be a lower-case header name').optional(),
})

const Route = z.object({
  /** This route's own limit (same window). */
  limit: z.number().int().positive().optional(),
  /** No limit on this route. */
  disabled: z.boolean().default(false),
})

export default defineFilter({
  name: 'rate-limiter',
  config: Config,
  routeConfig: Route,
  mergeRouteConfig: (config, route) => ({ ...config, limit: route?.limit ?? config.limit, disabled: route?.disabled ?? false }),
  metrics: {
    requests: { type: 'counter', labels: { decision: ['allowed', 'limited', 'unlimited'] }, description: 'requests by decision' },
    clients: { type: 'gauge', description: 'clients seen in the current window on this worker' },
  },
  create(config, context) {
    // Clients seen per window on this worker, for the gauge; reset each window by a background task.
    let seen = new Set<string>()
    context.every(config.windowMs, () => {
      seen = new Set()
      context.metrics.clients.set(0)
    })
    return {
      onRequestHeaders(headers, stream) {
        const route = context.routeConfig(stream)
        if (route.disabled) {
          context.metrics.requests.inc({ decision: 'unlimited' })
          return
        }
        const client = (config.clientHeader && headers.get(config.clientHeader)) || stream.info.sourceAddress?.replace(/:\d+$/, '') || 'unknown'
        const now = context.now()
        const window = Math.floor(now / config.windowMs)
        const resetSeconds = Math.ceil(((window + 1) * config.windowMs - now) / 1000)
        // Atomic across workers: each request gets its own count, so exactly `limit` pass per window.
        const count = context.shared.increment(`rate-limiter:${client}:${window}`, 1, { ttlMs: config.windowMs })
        if (!seen.has(client)) {
          seen.add(client)
          context.metrics.clients.set(seen.size)
        }
        const rate = {
          'x-ratelimit-limit': String(route.limit),
          'x-ratelimit-remaining': String(Math.max(0, route.limit - count)),
          'x-ratelimit-reset': String(resetSeconds),
        }
        if (count > route.limit) {
          context.metrics.requests.inc({ decision: 'limited' })
          return stream.sendLocalReply(429, 'rate limit exceeded', { ...rate, 'retry-after': String(resetSeconds) }, 'rate_limited')
        }
        context.metrics.requests.inc({ decision: 'allowed' })
        stream.filterState.set('rate-limiter.remaining', rate['x-ratelimit-remaining'])
      },
      onResponseHeaders(headers, stream) {
        const remaining = stream.filterState.get('rate-limiter.remaining')
        if (remaining !== undefined) headers.set('x-ratelimit-remaining', remaining)
      },
    }
  },
})
