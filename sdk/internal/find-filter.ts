// Finding the filters a bundle exports: used by the environment bootstrap and by `nodevoy build`'s
// inspection, so both agree on what a bundle offers.
import type { FilterBrand } from './brand.js'
import { FILTER_BRAND, PROTOCOL_VERSION } from './contract.js'

export type BrandedFilter = { [key: symbol]: FilterBrand | undefined }

const brand = Symbol.for(FILTER_BRAND)

/** The defineFilter() results a bundle exports (default or named), by filter name. */
export function findFilters(exports: unknown): Map<string, BrandedFilter> {
  const found = new Map<string, BrandedFilter>()
  const consider = (value: unknown): void => {
    if (value && (typeof value === 'object' || typeof value === 'function')) {
      const branded = (value as BrandedFilter)[brand]
      if (branded) found.set(branded.name, value as BrandedFilter)
    }
  }
  consider(exports)
  if (exports && typeof exports === 'object') for (const key of Object.keys(exports)) consider((exports as Record<string, unknown>)[key])
  return found
}

/** The protocol version of filters made by another nodevoy release, if the bundle has such. */
export function otherProtocol(exports: unknown): number | undefined {
  const values = exports && typeof exports === 'object' ? [exports, ...Object.values(exports)] : [exports]
  for (const value of values) {
    if (!value || (typeof value !== 'object' && typeof value !== 'function')) continue
    for (const symbol of Object.getOwnPropertySymbols(value)) {
      const match = /^nodevoy\.filter\.v(\d+)$/.exec(symbol.description ?? '')
      if (match && Number(match[1]) !== PROTOCOL_VERSION) return Number(match[1])
    }
  }
  return undefined
}

/** The filter named `name` ("" = the only one), or an error that says what the bundle has. */
export function findFilter(exports: unknown, name: string): BrandedFilter {
  const found = findFilters(exports)
  if (found.size === 0) {
    const other = otherProtocol(exports)
    if (other !== undefined) {
      throw new Error(
        `the bundle was built with another nodevoy release (filter protocol v${other}; this libnodevoy speaks v${PROTOCOL_VERSION}): rebuild it with the nodevoy that ships this libnodevoy.so`,
      )
    }
  }
  if (name === '' && found.size === 1) return [...found.values()][0]!
  const def = found.get(name)
  if (!def) {
    const names = [...found.keys()].map((n) => JSON.stringify(n)).join(', ')
    throw new Error(`the bundle has no filter named ${JSON.stringify(name)} (filters found: ${names || 'none; export a defineFilter() result'})`)
  }
  return def
}
