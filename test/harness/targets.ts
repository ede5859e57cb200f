// Runs a conformance test once per proxy target: always the dev host, and real Envoy when
// ENVOY_BIN is set (otherwise that run is skipped with the reason printed).
import type { Test } from 'tap'
import { TARGETS, unavailableReason, type Target } from './proxy.js'

export async function forEachTarget(t: Test, fn: (t: Test, target: Target) => Promise<void>): Promise<void> {
  for (const target of TARGETS) {
    const reason = unavailableReason(target)
    if (reason) {
      await t.test(target, { skip: reason }, async () => {})
    } else {
      await t.test(target, (tt) => fn(tt, target))
    }
  }
}

/** For semantics only the dev host reports (its ABI-violation counters): one run, on the dev host. */
export async function devHostOnly(t: Test, fn: (t: Test) => Promise<void>): Promise<void> {
  const reason = unavailableReason('devhost')
  if (reason) {
    await t.test('devhost', { skip: reason }, async () => {})
  } else {
    await t.test('devhost', fn)
  }
}
