// What both runners of the scenario table compare: the scenario's expectations against an outcome.
import type { Test } from 'tap'
import type { Scenario } from './table.js'

export interface Outcome {
  status: number
  headers: Record<string, string>
  body: string
  trailers: Record<string, string>
  upstream: { method: string; path: string; headers: Record<string, string>; body: string } | undefined
}

export function checkOutcome(t: Test, scenario: Scenario, outcome: Outcome): void {
  const expect = scenario.expect
  t.equal(outcome.status, expect.status, 'status')
  if (expect.body !== undefined) t.equal(outcome.body, expect.body, 'body')
  for (const [name, value] of Object.entries(expect.headers ?? {})) {
    t.equal(outcome.headers[name] ?? null, value, `response header ${name}`)
  }
  for (const [name, value] of Object.entries(expect.trailers ?? {})) {
    t.equal(outcome.trailers[name] ?? null, value, `response trailer ${name}`)
  }
  if (expect.upstream === null) {
    t.equal(outcome.upstream, undefined, 'nothing reached the upstream')
  } else if (expect.upstream !== undefined) {
    const up = outcome.upstream
    t.ok(up, 'the request reached the upstream')
    if (!up) return
    if (expect.upstream.method !== undefined) t.equal(up.method, expect.upstream.method, 'upstream method')
    if (expect.upstream.path !== undefined) t.equal(up.path, expect.upstream.path, 'upstream path')
    if (expect.upstream.body !== undefined) t.equal(up.body, expect.upstream.body, 'upstream body')
    for (const [name, value] of Object.entries(expect.upstream.headers ?? {})) {
      t.equal(up.headers[name] ?? null, value, `upstream header ${name}`)
    }
  }
}
