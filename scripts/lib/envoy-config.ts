// The Envoy configuration nodevoy writes: the DynamicModuleFilter entry for a filter (what
// `nodevoy config` prints), and a complete bootstrap around it (what `nodevoy build` writes).
// Type URLs and field names are Envoy v1.40's (shared/reference/envoy-abi.md §4).
import net from 'node:net'
import YAML from 'yaml'

export const TYPE = {
  hcm: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  moduleFilter: 'type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter',
  router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  stringValue: 'type.googleapis.com/google.protobuf.StringValue',
  stdoutAccessLog: 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
} as const

export interface FilterEntryOptions {
  /** The filter's name in the bundle (defineFilter's name). */
  filter: string
  /** Absolute path of bundle.js where Envoy runs. */
  bundlePath: string
  /** The filter's own config (absent: libnodevoy hands the filter `{}`). */
  config?: unknown
  failOpen?: boolean
}

/** The bytes libnodevoy receives as filter_config: JSON of the bundle, the filter and its config. */
export function filterConfigJson(options: FilterEntryOptions): string {
  const value: Record<string, unknown> = { bundle: options.bundlePath, filter: options.filter }
  if (options.config !== undefined) value.config = options.config
  if (options.failOpen) value.failOpen = true
  return JSON.stringify(value)
}

/**
 * One http_filters entry: libnodevoy running one filter of the bundle. The filter config travels as
 * a google.protobuf.StringValue holding JSON: Envoy hands a StringValue's bytes to the module as
 * they are, so the filter receives exactly the user's JSON. (Written as a YAML Struct instead,
 * Envoy's YAML conversion turns fractional numbers and integers beyond 32 bits into strings and
 * yes/no/on/off into booleans before the filter sees them.)
 */
export function filterEntry(options: FilterEntryOptions): Record<string, unknown> {
  return {
    name: options.filter,
    typed_config: {
      '@type': TYPE.moduleFilter,
      // do_not_close: libnodevoy runs Node's threads, so the module must never be unloaded.
      dynamic_module_config: { name: 'nodevoy', do_not_close: true },
      filter_name: options.filter,
      filter_config: { '@type': TYPE.stringValue, value: filterConfigJson(options) },
    },
  }
}

/** Where requests go after the filter: a host (IPv4, IPv6 or DNS name) and port. */
export interface UpstreamAddress {
  host: string
  port: number
}

/**
 * Parses `host:port` (an IPv4 address or a DNS name) or `[ipv6]:port`; undefined when malformed.
 * `anyPort` accepts port 0 (a listener on a port the system picks).
 */
export function parseHostPort(value: string, options: { anyPort?: boolean } = {}): UpstreamAddress | undefined {
  const bracketed = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(value)
  const plain = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(value)
  const match = bracketed ?? plain
  if (!match) return undefined
  const host = match[1]!
  const port = Number(match[2])
  if (port < (options.anyPort ? 0 : 1) || port > 65535) return undefined
  if (bracketed && net.isIPv6(host)) return { host, port }
  if (!bracketed && (net.isIPv4(host) || isDnsName(host))) return { host, port }
  return undefined
}

function isDnsName(host: string): boolean {
  if (host.length > 253 || /^[0-9.]+$/.test(host)) return false  // digits and dots only: a malformed IPv4
  return host.split('.').every((label) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label))
}

/** A cluster of one endpoint: STATIC for an IP address, STRICT_DNS (re-resolved by Envoy) for a name. */
export function endpointCluster(name: string, address: UpstreamAddress): Record<string, unknown> {
  const isName = net.isIP(address.host) === 0
  return {
    name,
    type: isName ? 'STRICT_DNS' : 'STATIC',
    ...(isName ? { dns_lookup_family: 'V4_PREFERRED' } : {}),
    connect_timeout: '5s',
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: address.host, port_value: address.port } } } }] }],
    },
  }
}

/** The cluster requests go to after the filters. */
export function upstreamCluster(upstream: UpstreamAddress): Record<string, unknown> {
  return endpointCluster(UPSTREAM_CLUSTER, upstream)
}

/** The name of the cluster behind the filters (so no other cluster may take it). */
export const UPSTREAM_CLUSTER = 'upstream'

/** A cluster for the filter's callouts (`stream.fetch(name, ...)`). */
export interface NamedCluster {
  name: string
  address: UpstreamAddress
}

/**
 * Parses `name=host:port` (a cluster for `stream.fetch`); throws a message saying what is wrong.
 * Names are what Envoy's stats can carry unescaped: letters, digits, `_`, `-` and `.`.
 */
export function parseClusterSpec(value: string): NamedCluster {
  const eq = value.indexOf('=')
  const name = eq < 0 ? '' : value.slice(0, eq)
  const target = eq < 0 ? value : value.slice(eq + 1)
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
    throw new Error(`must be name=host:port with a name of letters, digits, "_", "-" or "." (e.g. auth=127.0.0.1:9000), got "${value}"`)
  }
  if (name === UPSTREAM_CLUSTER) throw new Error(`"${UPSTREAM_CLUSTER}" is the cluster behind the filter (set by the upstream option); choose another name`)
  const address = parseHostPort(target)
  if (!address) throw new Error(`${name}: must be host:port with an IPv4 address, a host name or a bracketed IPv6 address, got "${target}"`)
  return { name, address }
}

export interface BootstrapOptions {
  filters: FilterEntryOptions[]
  listen: { address: string; port: number }
  admin: { address: string; port: number }
  /** Where requests go after the filters: a cluster of one endpoint, or a direct response. */
  upstream: UpstreamAddress | { directResponse: { status: number; body: string } }
  /** Log every request to stdout in Envoy's default access-log format (Envoy; the dev host has no access logs). */
  accessLog?: boolean
  /** More clusters, for the filter's callouts (`stream.fetch(name, ...)`). */
  clusters?: NamedCluster[]
}

export function bootstrap(options: BootstrapOptions): Record<string, unknown> {
  const route =
    'directResponse' in options.upstream
      ? { match: { prefix: '/' }, direct_response: { status: options.upstream.directResponse.status, body: { inline_string: options.upstream.directResponse.body } } }
      : { match: { prefix: '/' }, route: { cluster: UPSTREAM_CLUSTER } }
  const clusters = [
    ...('directResponse' in options.upstream ? [] : [upstreamCluster(options.upstream)]),
    ...(options.clusters ?? []).map((c) => endpointCluster(c.name, c.address)),
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
                    ...(options.accessLog
                      ? { access_log: [{ name: 'envoy.access_loggers.stdout', typed_config: { '@type': TYPE.stdoutAccessLog } }] }
                      : {}),
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
