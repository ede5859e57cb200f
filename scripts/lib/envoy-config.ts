// The Envoy configuration nodevoy writes: the DynamicModuleFilter entry for a filter (what
// `nodevoy config` prints), and a complete bootstrap around it (what `nodevoy build` writes).
// Type URLs and field names are Envoy v1.40's (shared/reference/envoy-abi.md §4).
import YAML from 'yaml'

export const TYPE = {
  hcm: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  moduleFilter: 'type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter',
  router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  struct: 'type.googleapis.com/google.protobuf.Struct',
} as const

export interface FilterEntryOptions {
  /** The filter's name in the bundle (defineFilter's name). */
  filter: string
  /** Absolute path of bundle.js where Envoy runs. */
  bundlePath: string
  /** The filter's own config. */
  config?: unknown
  failOpen?: boolean
}

/** One http_filters entry: libnodevoy running one filter of the bundle. */
export function filterEntry(options: FilterEntryOptions): Record<string, unknown> {
  const value: Record<string, unknown> = { bundle: options.bundlePath, filter: options.filter }
  if (options.config !== undefined) value.config = options.config
  if (options.failOpen) value.failOpen = true
  return {
    name: options.filter,
    typed_config: {
      '@type': TYPE.moduleFilter,
      // do_not_close: libnodevoy runs Node's threads, so the module must never be unloaded.
      dynamic_module_config: { name: 'nodevoy', do_not_close: true },
      filter_name: options.filter,
      filter_config: { '@type': TYPE.struct, value },
    },
  }
}

export interface BootstrapOptions {
  filters: FilterEntryOptions[]
  listen: { address: string; port: number }
  admin: { address: string; port: number }
  /** Where requests go after the filters: a cluster of one endpoint, or a direct response. */
  upstream: { address: string; port: number } | { directResponse: { status: number; body: string } }
}

export function bootstrap(options: BootstrapOptions): Record<string, unknown> {
  const route =
    'directResponse' in options.upstream
      ? { match: { prefix: '/' }, direct_response: { status: options.upstream.directResponse.status, body: { inline_string: options.upstream.directResponse.body } } }
      : { match: { prefix: '/' }, route: { cluster: 'upstream' } }
  const clusters =
    'directResponse' in options.upstream
      ? []
      : [
          {
            name: 'upstream',
            type: 'STATIC',
            connect_timeout: '5s',
            load_assignment: {
              cluster_name: 'upstream',
              endpoints: [
                { lb_endpoints: [{ endpoint: { address: { socket_address: { address: options.upstream.address, port_value: options.upstream.port } } } }] },
              ],
            },
          },
        ]
  return {
    admin: { address: { socket_address: { address: options.admin.address, port_value: options.admin.port } } },
    static_resources: {
      listeners: [
        {
          name: 'ingress',
          address: { socket_address: { address: options.listen.address, port_value: options.listen.port } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': TYPE.hcm,
                    stat_prefix: 'ingress',
                    route_config: { name: 'local', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [route] }] },
                    http_filters: [
                      ...options.filters.map(filterEntry),
                      { name: 'envoy.filters.http.router', typed_config: { '@type': TYPE.router } },
                    ],
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

export function toYaml(document: unknown, header?: string): string {
  const body = YAML.stringify(document, { lineWidth: 0 })
  return header ? header.split('\n').map((l) => `# ${l}`.trimEnd()).join('\n') + '\n' + body : body
}
