// Filters for testing-kit tests: bundled like for the proxy (the filter with its own copy of the SDK),
// then loaded into the test's own process, where nodevoy/testing runs them.
import { createRequire } from 'node:module'
import { bundled } from './nodevoy.js'

const load = createRequire(import.meta.url)

/** The exports of a filter entry (path relative to the repository), bundled and loaded here. */
export async function filterModule(entry: string): Promise<unknown> {
  return load(await bundled(entry))
}
