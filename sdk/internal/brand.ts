import type { NativeBinding, FilterInstanceHandle } from './binding.js'
import { FILTER_BRAND } from './contract.js'

/** The brand libnodevoy looks for on exported filter definitions. */
export const FILTER_BRAND_SYMBOL: unique symbol = Symbol.for(FILTER_BRAND) as never

/** What a branded filter definition offers libnodevoy. */
export interface FilterBrand {
  name: string
  instantiate(binding: NativeBinding, configJson: string, filterId: number, settleTimeoutMs: number): FilterInstanceHandle
  /** Checks a per-route config (JSON) with the filter's routeConfig schema; throws a ConfigError naming the field. */
  validateRouteConfig(routeJson: string): void
}
