// Builds Envoy v3 bootstrap configs for tests. Everything it writes is valid for real Envoy too.
const STRUCT = 'type.googleapis.com/google.protobuf.Struct'
const STRING_VALUE = 'type.googleapis.com/google.protobuf.StringValue'
const BYTES_VALUE = 'type.googleapis.com/google.protobuf.BytesValue'
const MODULE_FILTER = 'type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter'
const MODULE_FILTER_PER_ROUTE =
  'type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilterPerRoute'
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager'
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router'
const UPSTREAM_HTTP_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions'

/** A filter_config value: an object becomes a Struct (JSON for the module), a string a StringValue. */
export type FilterConfigValue = Record<string, unknown> | string | { bytes: Buffer }

export interface ModuleFilterDef {
  /** http_filters[].name; also the key for typed_per_filter_config. */
  name: string
  /** Module name: lib<module>.so in the search path. */
  module: string
  filterName?: string
  config?: FilterConfigValue
  terminal?: boolean
  disabled?: boolean
  doNotClose?: boolean
  loadGlobally?: boolean
  metricsNamespace?: string
}

export interface RouteDef {
  name?: string
  prefix?: string
  path?: string
  cluster?: string
  timeout?: string
  directResponse?: { status: number; body?: string }
  /** By HTTP filter name: a module per-route config, or { disabled: boolean }. */
  perFilter?: Record<string, { module: string; filterName?: string; config?: FilterConfigValue } | { disabled: boolean }>
  metadata?: Record<string, Record<string, unknown>>
}

export interface BootstrapDef {
  filters?: ModuleFilterDef[]
  routes?: RouteDef[]
  /** Cluster name -> upstream ports on 127.0.0.1. */
  clusters?: Record<string, number[]>
  /** Omit the router (the last module filter must be terminal). */
  noRouter?: boolean
  listenerName?: string
  bufferLimitBytes?: number
  /** Http1ProtocolOptions.enable_trailers on the listener's HCM and every cluster (Envoy drops HTTP/1 trailers by default). */
  http1Trailers?: boolean
  /** Http1ProtocolOptions.accept_http_10 on the listener's HCM (Envoy answers HTTP/1.0 with 426 by default). */
  acceptHttp10?: boolean
  /** Bootstrap inline_headers: headers registered as inline (O(1)), whose repeated values Envoy merges. */
  inlineHeaders?: { name: string; type: 'REQUEST_HEADER' | 'REQUEST_TRAILER' | 'RESPONSE_HEADER' | 'RESPONSE_TRAILER' }[]
}

export function filterConfigAny(value: FilterConfigValue): Record<string, unknown> {
  if (typeof value === 'string') return { '@type': STRING_VALUE, value }
  if ('bytes' in value && Buffer.isBuffer(value.bytes)) {
    return { '@type': BYTES_VALUE, value: value.bytes.toString('base64') }
  }
  return { '@type': STRUCT, value }
}

export function moduleFilter(def: ModuleFilterDef): Record<string, unknown> {
  const moduleConfig: Record<string, unknown> = { name: def.module, do_not_close: def.doNotClose ?? true }
  if (def.loadGlobally) moduleConfig.load_globally = true
  if (def.metricsNamespace) moduleConfig.metrics_namespace = def.metricsNamespace
  const typed: Record<string, unknown> = {
    '@type': MODULE_FILTER,
    dynamic_module_config: moduleConfig,
    filter_name: def.filterName ?? def.name,
  }
  if (def.config !== undefined) typed.filter_config = filterConfigAny(def.config)
  if (def.terminal) typed.terminal_filter = true
  const filter: Record<string, unknown> = { name: def.name, typed_config: typed }
  if (def.disabled) filter.disabled = true
  return filter
}

function route(def: RouteDef): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (def.name) out.name = def.name
  out.match = def.path !== undefined ? { path: def.path } : { prefix: def.prefix ?? '/' }
  if (def.directResponse) {
    out.direct_response = {
      status: def.directResponse.status,
      ...(def.directResponse.body !== undefined ? { body: { inline_string: def.directResponse.body } } : {}),
    }
  } else {
    out.route = { cluster: def.cluster ?? 'backend', ...(def.timeout ? { timeout: def.timeout } : {}) }
  }
  if (def.perFilter) {
    const perFilter: Record<string, unknown> = {}
    for (const [name, cfg] of Object.entries(def.perFilter)) {
      if ('disabled' in cfg) {
        perFilter[name] = { '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig', disabled: cfg.disabled }
      } else {
        perFilter[name] = {
          '@type': MODULE_FILTER_PER_ROUTE,
          dynamic_module_config: { name: cfg.module, do_not_close: true },
          filter_name: cfg.filterName ?? name,
          ...(cfg.config !== undefined ? { filter_config: filterConfigAny(cfg.config) } : {}),
        }
      }
    }
    out.typed_per_filter_config = perFilter
  }
  if (def.metadata) out.metadata = { filter_metadata: def.metadata }
  return out
}

export function bootstrap(def: BootstrapDef): Record<string, unknown> {
  const httpFilters = (def.filters ?? []).map(moduleFilter)
  if (!def.noRouter) httpFilters.push({ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } })
  const clusters = Object.entries(def.clusters ?? {}).map(([name, ports]) => ({
    name,
    type: 'STATIC',
    // Generous: on a loaded 2-core machine a worker can take over a second to see a connect complete.
    connect_timeout: '5s',
    ...(def.http1Trailers
      ? {
          typed_extension_protocol_options: {
            [UPSTREAM_HTTP_OPTIONS]: {
              '@type': `type.googleapis.com/${UPSTREAM_HTTP_OPTIONS}`,
              explicit_http_config: { http_protocol_options: { enable_trailers: true } },
            },
          },
        }
      : {}),
    load_assignment: {
      cluster_name: name,
      endpoints: [
        { lb_endpoints: ports.map((port) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } })) },
      ],
    },
  }))
  return {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    ...(def.inlineHeaders
      ? { inline_headers: def.inlineHeaders.map((h) => ({ inline_header_name: h.name, inline_header_type: h.type })) }
      : {}),
    static_resources: {
      listeners: [
        {
          name: def.listenerName ?? 'ingress',
          address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
          ...(def.bufferLimitBytes ? { per_connection_buffer_limit_bytes: def.bufferLimitBytes } : {}),
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': HCM,
                    stat_prefix: 'ingress',
                    ...(def.http1Trailers || def.acceptHttp10
                      ? {
                          http_protocol_options: {
                            ...(def.http1Trailers ? { enable_trailers: true } : {}),
                            ...(def.acceptHttp10 ? { accept_http_10: true } : {}),
                          },
                        }
                      : {}),
                    route_config: {
                      name: 'local',
                      virtual_hosts: [{ name: 'all', domains: ['*'], routes: (def.routes ?? [{ prefix: '/' }]).map(route) }],
                    },
                    http_filters: httpFilters,
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters,
    },
  }
}
