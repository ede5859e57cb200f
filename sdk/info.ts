import { NodevoyError } from './errors.js'
import type { NativeBinding } from './internal/binding.js'
import type { StreamLink } from './internal/link.js'

/**
 * What Envoy knows about a stream (its stream info), read lazily: each property costs one native
 * call when read, none otherwise. `undefined` when Envoy has no value (yet): the response code
 * before the response, the route before routing.
 */
export interface StreamInfo {
  /** The client's address. Envoy ≥ 1.40 gives `ip:port`; earlier releases the IP only. */
  readonly sourceAddress: string | undefined
  /** The client's port. */
  readonly sourcePort: number | undefined
  /** The address the client connected to (Envoy's listener side). */
  readonly destinationAddress: string | undefined
  /** The port the client connected to. */
  readonly destinationPort: number | undefined
  /** The request protocol, e.g. `HTTP/1.1`. */
  readonly protocol: string | undefined
  /** The request id (`x-request-id`). */
  readonly requestId: string | undefined
  /** The downstream connection's id. */
  readonly connectionId: number | undefined
  /** The matched route's name. */
  readonly routeName: string | undefined
  /** The matched virtual host's name (on Envoy ≥ 1.40). */
  readonly virtualHostName: string | undefined
  /** The upstream cluster's name. */
  readonly clusterName: string | undefined
  /** The upstream host's address. */
  readonly upstreamAddress: string | undefined
  /** The response code, once there is one. */
  readonly responseCode: number | undefined
  /** Envoy's response code details (e.g. `via_upstream`, or a local reply's details). */
  readonly responseCodeDetails: string | undefined
  /** Request body bytes received so far. */
  readonly requestBodySize: number | undefined
  /** Response body bytes sent so far. */
  readonly responseBodySize: number | undefined
}

/** The attribute ids of the Envoy module ABI this SDK reads, and the type Envoy gives each. */
const ATTRIBUTES: Record<keyof StreamInfo, [id: number, type: 0 | 1 | 2]> = {
  sourceAddress: [24, 0],
  sourcePort: [25, 1],
  destinationAddress: [26, 0],
  destinationPort: [27, 1],
  protocol: [10, 0],
  requestId: [9, 0],
  connectionId: [28, 1],
  routeName: [61, 0],
  virtualHostName: [63, 0],
  clusterName: [57, 0],
  upstreamAddress: [41, 0],
  responseCode: [15, 1],
  responseCodeDetails: [16, 0],
  requestBodySize: [13, 1],
  responseBodySize: [21, 1],
}

export function createStreamInfo(binding: NativeBinding, link: StreamLink): StreamInfo {
  const info = {} as StreamInfo
  for (const [name, [id, type]] of Object.entries(ATTRIBUTES)) {
    Object.defineProperty(info, name, {
      enumerable: true,
      get: () => {
        link.check()
        return binding.attribute(link.token, id, type)
      },
    })
  }
  return Object.freeze(info)
}

/** Metadata values Envoy's module ABI can store. */
export type MetadataValue = string | number | boolean

/** Where metadata is read from. */
export type MetadataSource = 'dynamic' | 'route' | 'cluster' | 'host' | 'hostLocality'

const SOURCES: Record<MetadataSource, number> = { dynamic: 0, route: 1, cluster: 2, host: 3, hostLocality: 4 }

/**
 * Envoy's metadata: dynamic metadata (set by filters, read by later filters and access logs) and
 * the route's, cluster's and host's configured metadata (read only).
 */
export interface Metadata {
  /** A value under `namespace` (e.g. `envoy.filters.http.my_filter`) and `key`, or `undefined`. */
  get(namespace: string, key: string, source?: MetadataSource): MetadataValue | undefined
  /** Sets a dynamic metadata value. */
  set(namespace: string, key: string, value: MetadataValue): void
}

export function createMetadata(binding: NativeBinding, link: StreamLink): Metadata {
  return Object.freeze({
    get(namespace: string, key: string, source: MetadataSource = 'dynamic') {
      link.check()
      const numeric = SOURCES[source]
      if (numeric === undefined) {
        throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', `metadata.get: unknown source ${JSON.stringify(source)}`)
      }
      return binding.getMetadata(link.token, numeric, namespace, key)
    },
    set(namespace: string, key: string, value: MetadataValue) {
      link.check()
      binding.setMetadata(link.token, namespace, key, value)
    },
  })
}

/** Envoy's filter state: per-stream values other filters (and Envoy) can read, as bytes. */
export interface FilterState {
  /** The value of `key` decoded as UTF-8, or `undefined`. */
  get(key: string): string | undefined
  /** The value of `key` as bytes, or `undefined`. */
  getBytes(key: string): Uint8Array | undefined
  /** Sets `key` (text is stored as UTF-8). Throws when Envoy refuses (e.g. a read-only key). */
  set(key: string, value: string | Uint8Array): void
}

const utf8 = new TextDecoder('utf-8')

export function createFilterState(binding: NativeBinding, link: StreamLink): FilterState {
  return Object.freeze({
    get(key: string) {
      const bytes = this.getBytes(key)
      return bytes === undefined ? undefined : utf8.decode(bytes)
    },
    getBytes(key: string) {
      link.check()
      return binding.getFilterState(link.token, key)
    },
    set(key: string, value: string | Uint8Array) {
      link.check()
      if (!binding.setFilterState(link.token, key, value)) {
        throw new NodevoyError('NODEVOY_ERR_INVALID_STATE', `filterState.set: Envoy refused to set ${JSON.stringify(key)} (read-only, or already set by another filter)`)
      }
    },
  })
}
