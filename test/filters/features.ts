// Issue 10 features in one filter, driven by the request: metrics (labels, bad use, cardinality),
// the shared store, per-route config, background work.
//   x-action: count        requests{decision,method} +1 (decision from x-decision), latency recorded
//   x-action: limit        per-client fixed-window limit (x-client) of routeConfig(stream).limit per minute
//                          (x-window names the window, for tests that must not straddle a minute)
//   x-action: misuse       the metric misuse named by x-misuse; the error message comes back in x-error
//   x-action: shared       shared-store operation x-op on key x-key (value x-value) -> x-result
//   x-action: route        the merged route config as JSON in x-route
//   x-action: ticks        background ticks seen by this worker so far (x-ticks), and its worker index
//   x-action: wait         waits 5 s on a timer tied to the stream's signal; how it ended goes to the
//                          shared store under features:wait:<x-key>
import { setTimeout as sleep } from 'node:timers/promises'
import { z } from 'zod'
import { defineFilter } from 'nodevoy'

export default defineFilter({
  name: 'features',
  config: z
    .object({ limit: z.number().int().positive().default(1000), tickMs: z.number().int().positive().default(50), tag: z.string().default('t') })
    .default({ limit: 1000, tickMs: 50, tag: 't' }),
  routeConfig: z.object({ limit: z.number().int().positive(), label: z.string().optional() }),
  mergeRouteConfig: (config, route) => (route ? { ...config, ...route, merged: true } : config),
  metrics: {
    requests: { type: 'counter', labels: { decision: ['allow', 'deny'], method: 'any' }, maxSeries: 3 },
    inflight: { type: 'gauge' },
    latency_us: { type: 'histogram' },
    ticks: { type: 'counter' },
    last_tick_worker: { type: 'gauge', labels: { worker: 'any' } },
  },
  create(config, context) {
    let ticks = 0
    context.every(config.tickMs, () => {
      ticks++
      context.shared.increment(`features:ticks:${config.tag}:${context.workerIndex}`)
      context.metrics.ticks.inc()
      context.metrics.last_tick_worker.set({ worker: String(context.workerIndex) }, ticks)
    })
    return {
      onRequestHeaders(headers, stream) {
        const action = headers.get('x-action')
        const reply = (status: number, extra: Record<string, string>) => stream.sendLocalReply(status, '', extra)
        const started = process.hrtime.bigint()
        if (action === 'count') {
          context.metrics.inflight.inc()
          const decision = (headers.get('x-decision') ?? 'allow') as 'allow' | 'deny'
          context.metrics.requests.inc({ decision, method: headers.method ?? '' })
          context.metrics.latency_us.record(Number(process.hrtime.bigint() - started) / 1000)
          context.metrics.inflight.dec()
          return reply(200, { 'x-counted': decision })
        }
        if (action === 'limit') {
          const { limit } = context.routeConfig(stream) as { limit: number }
          const window = headers.get('x-window') ?? String(Math.floor(Date.now() / 60000))
          const count = context.shared.increment(`features:limit:${headers.get('x-client')}:${window}`, 1, { ttlMs: 60000 })
          const decision = count > limit ? 'deny' : 'allow'
          context.metrics.requests.inc({ decision, method: 'limit' })
          return reply(decision === 'deny' ? 429 : 200, { 'x-count': String(count), 'x-worker': String(stream.workerIndex) })
        }
        if (action === 'misuse') {
          const metrics = context.metrics as unknown as Record<string, { inc(...a: unknown[]): void; set(...a: unknown[]): void }>
          try {
            switch (headers.get('x-misuse')) {
              case 'undeclared': metrics.nope!.inc(); break
              case 'missing-label': metrics.requests!.inc({ decision: 'allow' }); break
              case 'extra-label': metrics.requests!.inc({ decision: 'allow', method: 'GET', zone: 'a' }); break
              case 'outside-set': metrics.requests!.inc({ decision: 'maybe', method: 'GET' }); break
              case 'no-labels': metrics.requests!.inc(); break
              case 'negative': metrics.inflight!.set(-1); break
              case 'cardinality': metrics.requests!.inc({ decision: 'allow', method: headers.get('x-method') }); break
            }
            return reply(200, { 'x-error': 'none' })
          } catch (error) {
            return reply(200, { 'x-error': String((error as Error).message).slice(0, 300), 'x-code': String((error as { code?: string }).code) })
          }
        }
        if (action === 'shared') {
          const key = headers.get('x-key') ?? 'k'
          const value = headers.get('x-value')
          const ttlMs = headers.has('x-ttl') ? Number(headers.get('x-ttl')) : undefined
          let result: unknown
          switch (headers.get('x-op')) {
            case 'get': result = context.shared.get(key); break
            case 'set': context.shared.set(key, value ?? '', { ttlMs }); result = 'ok'; break
            case 'increment': result = context.shared.increment(key, Number(value ?? 1), { ttlMs }); break
            case 'cas': result = context.shared.compareAndSet(key, headers.get('x-expected') ?? undefined, value ?? '', { ttlMs }); break
            case 'delete': result = context.shared.delete(key); break
          }
          return reply(200, { 'x-result': JSON.stringify(result ?? null) })
        }
        if (action === 'route') {
          return reply(200, { 'x-route': JSON.stringify(context.routeConfig(stream)) })
        }
        if (action === 'wait') {
          // A per-stream timer: ends with the stream (its signal).
          return sleep(5000, undefined, { signal: stream.signal }).then(
            () => context.shared.set(`features:wait:${headers.get('x-key')}`, 'slept'),
            (error: Error) => context.shared.set(`features:wait:${headers.get('x-key')}`, error.name),
          )
        }
        if (action === 'ticks') {
          return reply(200, { 'x-ticks': String(ticks), 'x-worker': String(stream.workerIndex) })
        }
        return undefined
      },
    }
  },
})
