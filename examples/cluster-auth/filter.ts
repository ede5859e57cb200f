// External authorization through an Envoy cluster: before a request goes on, the filter asks an auth
// service — a cluster of the Envoy config, so the check gets Envoy's load balancing, TLS, circuit
// breaking and cluster stats — with stream.fetch. Allowed answers are cached across workers for a
// while; routes can require a scope or skip the check.
import { z } from 'zod'
import { defineFilter } from 'nodevoy'

const Config = z.object({
  /** The auth service's cluster, by its name in the Envoy config. */
  cluster: z.string().min(1),
  path: z.string().startsWith('/').default('/check'),
  timeoutMs: z.number().int().min(1).max(60000).default(1000),
  /** Request headers sent with the check (pseudo-headers as x-original-*). */
  forwardHeaders: z.array(z.string()).default(['authorization', ':method', ':path']),
  /** Headers of an allowing answer copied onto the request. */
  upstreamHeaders: z.array(z.string()).default(['x-user-id']),
  /** How long an allowing answer is reused for the same credentials (0: ask every time). */
  cacheTtlMs: z.number().int().min(0).default(0),
  /** Let requests through when the service cannot answer (5xx, timeout, reset). */
  failureModeAllow: z.boolean().default(false),
})

const Route = z.object({
  /** No check on this route. */
  disabled: z.boolean().default(false),
  /** The scope the service must grant (sent as x-required-scope). */
  requiredScope: z.string().optional(),
})

export default defineFilter({
  name: 'cluster-auth',
  config: Config,
  routeConfig: Route,
  mergeRouteConfig: (config, route) => ({ ...config, disabled: route?.disabled ?? false, requiredScope: route?.requiredScope }),
  metrics: {
    checks: { type: 'counter', labels: { result: ['allowed', 'denied', 'error', 'cached', 'skipped'] } },
    check_ms: { type: 'histogram', description: 'how long the auth service took, in ms' },
  },
  create: (config, context) => ({
    async onRequestHeaders(headers, stream) {
      const route = context.routeConfig(stream)
      if (route.disabled) {
        context.metrics.checks.inc({ result: 'skipped' })
        return
      }
      const credentials = headers.get('authorization') ?? ''
      const cacheKey = `cluster-auth:${route.requiredScope ?? ''}:${credentials}`
      if (config.cacheTtlMs > 0 && credentials !== '') {
        const cached = context.shared.get(cacheKey)
        if (typeof cached === 'string') {
          context.metrics.checks.inc({ result: 'cached' })
          for (const [name, value] of JSON.parse(cached) as [string, string][]) headers.set(name, value)
          return
        }
      }
      const check: Record<string, string> = {}
      for (const name of config.forwardHeaders) {
        const value = headers.get(name)
        if (value !== undefined) check[name.startsWith(':') ? `x-original-${name.slice(1)}` : name] = value
      }
      if (route.requiredScope) check['x-required-scope'] = route.requiredScope
      const started = context.now()
      let res
      try {
        res = await stream.fetch(config.cluster, config.path, { headers: check, timeoutMs: config.timeoutMs, buffered: true })
      } catch (error) {
        // Envoy refused the callout (no such cluster) or reset it.
        return unavailable(`${(error as Error).message}`)
      } finally {
        context.metrics.check_ms.record(context.now() - started)
      }
      if (res.status >= 200 && res.status < 300) {
        context.metrics.checks.inc({ result: 'allowed' })
        const copied: [string, string][] = []
        for (const name of config.upstreamHeaders) {
          const value = res.headers.get(name)
          if (value !== null) copied.push([name, value])
          else headers.remove(name)  // never trust one the client sent
        }
        for (const [name, value] of copied) headers.set(name, value)
        if (config.cacheTtlMs > 0 && credentials !== '') context.shared.set(cacheKey, JSON.stringify(copied), { ttlMs: config.cacheTtlMs })
        return
      }
      if (res.status === 401 || res.status === 403) {
        context.metrics.checks.inc({ result: 'denied' })
        const challenge = res.headers.get('www-authenticate')
        return stream.sendLocalReply(res.status, await res.text(), challenge ? { 'www-authenticate': challenge } : {}, 'cluster_auth_denied')
      }
      return unavailable(`the auth service answered ${res.status}`)

      function unavailable(why: string) {
        context.metrics.checks.inc({ result: 'error' })
        stream.log('warn', `authorization unavailable: ${why}`)
        if (config.failureModeAllow) return
        stream.sendLocalReply(503, 'authorization service unavailable', {}, 'cluster_auth_unavailable')
      }
    },
  }),
})
