// Runs a conformance test once per proxy target: always the dev host, and real Envoy when
// ENVOY_BIN is set (otherwise that run is skipped with the reason printed).
import type { Test } from 'tap'
import { envoyVersionUnderTest, TARGETS, unavailableReason, type Target } from './proxy.js'

/** The subtest name of a target: the dev host run says which Envoy release it imitates unless it is the default. */
function targetName(target: Target): string {
  const version = envoyVersionUnderTest()
  return target === 'devhost' && version !== '1.40' ? `devhost (imitating Envoy ${version})` : target
}

export async function forEachTarget(t: Test, fn: (t: Test, target: Target) => Promise<void>): Promise<void> {
  for (const target of TARGETS) {
    const reason = unavailableReason(target)
    if (reason) {
      await t.test(targetName(target), { skip: reason }, async () => {})
    } else {
      await t.test(targetName(target), (tt) => fn(tt, target))
    }
  }
}

/** For semantics only the dev host reports (its ABI-violation counters): one run, on the dev host. */
export async function devHostOnly(t: Test, fn: (t: Test) => Promise<void>): Promise<void> {
  const reason = unavailableReason('devhost')
  if (reason) {
    await t.test(targetName('devhost'), { skip: reason }, async () => {})
  } else {
    await t.test(targetName('devhost'), fn)
  }
}
