// One table of scenarios, run through the testing kit (kit.test.ts) and through real HTTP on the dev
// host (devhost.test.ts): both must give every answer written here, which holds the kit's model of
// Envoy and libnodevoy to the real thing.
//
// The upstream's behaviour travels with the request (x-upstream-spec, JSON), so the kit's upstream
// function and the dev host's upstream server answer alike; the callout cluster `service` echoes.

export interface UpstreamSpec {
  status?: number
  headers?: Record<string, string>
  /** Body frames (the dev host's server writes each separately). */
  body?: string[]
  trailers?: Record<string, string>
  /** Answer with the request's body (and its method and path in x-echo-*). */
  echo?: boolean
}

export interface Scenario {
  name: string
  /** The filter's config (default none: the schema's default). */
  config?: Record<string, unknown>
  failOpen?: boolean
  /** The route's per-route config for the filter. */
  routeConfig?: Record<string, unknown>
  request: {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string
  }
  upstream?: UpstreamSpec
  /** A buffer limit smaller than the default (listener per_connection_buffer_limit_bytes). */
  bufferLimit?: number
  expect: {
    status: number
    /** Response headers: a value, or null for "absent". */
    headers?: Record<string, string | null>
    body?: string
    trailers?: Record<string, string>
    /** What reached the upstream, or null when nothing should. */
    upstream?: { method?: string; path?: string; headers?: Record<string, string | null>; body?: string } | null
  }
}

const json = (value: unknown) => JSON.stringify(value)

export const scenarios: Scenario[] = [
  {
    name: 'a request the filter lets through reaches the upstream and comes back',
    request: { headers: { 'x-scenario': 'passthrough' } },
    upstream: { status: 200, body: ['from upstream'] },
    expect: { status: 200, body: 'from upstream', headers: { 'x-filter': 'hello' }, upstream: { method: 'GET', path: '/' } },
  },
  {
    name: 'request headers set and removed, a response header added',
    request: { headers: { 'x-scenario': 'headers', 'x-remove': 'me' } },
    upstream: { status: 201 },
    expect: { status: 201, headers: { 'x-response': 'set' }, upstream: { headers: { 'x-added': 'yes', 'x-remove': null } } },
  },
  {
    name: 'a local reply from the request headers: the upstream never sees it',
    request: { headers: { 'x-scenario': 'deny' } },
    expect: { status: 403, body: 'denied', headers: { 'x-reason': 'policy', 'content-type': 'text/plain', 'x-filter': null }, upstream: null },
  },
  {
    name: 'a local reply after an await',
    request: { headers: { 'x-scenario': 'async-deny' } },
    expect: { status: 401, body: 'later', headers: { 'www-authenticate': 'Basic' }, upstream: null },
  },
  {
    name: 'an async hook holds the request, then it goes on with its changes',
    request: { headers: { 'x-scenario': 'async-continue' } },
    expect: { status: 200, upstream: { headers: { 'x-after-await': 'yes' } } },
  },
  {
    name: "'stop', then continueRequest from a timer",
    request: { headers: { 'x-scenario': 'stop-continue' } },
    expect: { status: 200, upstream: { headers: { 'x-stopped': 'yes' } } },
  },
  {
    name: 'the whole request body read and replaced: content-length follows',
    request: { method: 'POST', headers: { 'x-scenario': 'rewrite-request-body', 'content-type': 'application/json' }, body: json({ a: 1 }) },
    upstream: { echo: true },
    expect: {
      status: 200,
      body: json({ a: 1, checked: true }),
      upstream: { method: 'POST', body: json({ a: 1, checked: true }), headers: { 'content-length': String(json({ a: 1, checked: true }).length) } },
    },
  },
  {
    name: 'a response body rewritten chunk by chunk as it streams',
    request: { headers: { 'x-scenario': 'uppercase-response' } },
    upstream: { status: 200, body: ['abc', 'def'] },
    expect: { status: 200, body: 'ABCDEF' },
  },
  {
    name: 'the whole response body replaced from onResponseHeaders: content-length follows',
    request: { headers: { 'x-scenario': 'replace-response' } },
    upstream: { status: 200, headers: { 'content-length': '4' }, body: ['data'] },
    expect: { status: 200, body: 'rewritten:data', headers: { 'content-length': '14' } },
  },
  {
    name: 'a hook that throws fails the request closed: 500, nothing reaches the upstream',
    request: { headers: { 'x-scenario': 'throw' } },
    expect: { status: 500, body: '', upstream: null },
  },
  {
    name: 'a hook that rejects after an await fails it too',
    request: { headers: { 'x-scenario': 'throw-after-await' } },
    expect: { status: 500, upstream: null },
  },
  {
    name: 'failOpen: a failing hook lets the request go on',
    failOpen: true,
    request: { headers: { 'x-scenario': 'throw' } },
    upstream: { status: 200, body: ['still served'] },
    expect: { status: 200, body: 'still served', upstream: { path: '/' } },
  },
  {
    name: 'a response hook that throws before the response went out: 500',
    request: { headers: { 'x-scenario': 'throw-response' } },
    upstream: { status: 200, body: ['never shown'] },
    expect: { status: 500, body: '' },
  },
  {
    name: 'dynamic metadata and filter state set in one hook, read in another',
    request: { headers: { 'x-scenario': 'metadata' } },
    expect: { status: 200, headers: { 'x-metadata': 'metadata', 'x-state': 'kept' } },
  },
  {
    name: 'the filter config reaches create()',
    config: { greeting: 'bonjour' },
    request: { headers: { 'x-scenario': 'passthrough' } },
    expect: { status: 200, headers: { 'x-filter': 'bonjour' } },
  },
  {
    name: 'a per-route config merged with the filter config',
    routeConfig: { greeting: 'from the route' },
    request: { headers: { 'x-scenario': 'route' } },
    expect: { status: 200, upstream: { headers: { 'x-greeting': 'from the route' } } },
  },
  {
    name: 'the shared store counts',
    request: { headers: { 'x-scenario': 'shared-count', 'x-key': 'only-once' } },
    expect: { status: 200, upstream: { headers: { 'x-count': '1' } } },
  },
  {
    name: 'a callout through a cluster, its response used in the request',
    request: { headers: { 'x-scenario': 'callout' } },
    expect: { status: 200, upstream: { headers: { 'x-callout': '200 POST /check?from=filter ping yes' } } },
  },
  {
    name: 'a callout to a cluster that does not exist is refused',
    request: { headers: { 'x-scenario': 'callout-unknown-cluster' } },
    expect: { status: 502, body: 'cluster_not_found', upstream: null },
  },
  {
    name: 'a header value with a line break is refused with a clear error',
    request: { headers: { 'x-scenario': 'bad-header' } },
    expect: {
      status: 400,
      body: 'headers.set("x-bad"): invalid value "line\\x0Abreak": byte 0x0A (LF) at index 4 is not allowed: a header value must not contain NUL, CR or LF',
      upstream: null,
    },
  },
  {
    name: 'response trailers through the filter',
    request: { headers: { 'x-scenario': 'response-trailers' } },
    upstream: { status: 200, body: ['with trailers'], trailers: { 'x-upstream-trailer': 't1' } },
    expect: { status: 200, body: 'with trailers', trailers: { 'x-upstream-trailer': 't1', 'x-trailer-seen': 't1' } },
  },
  {
    name: 'a whole-body read of a body over the buffer limit is answered 413',
    bufferLimit: 65536,
    request: { method: 'POST', headers: { 'x-scenario': 'too-large' }, body: 'x'.repeat(100000) },
    expect: { status: 413, body: 'Payload Too Large', upstream: null },
  },
]

/** The cluster `service` callouts go to: echoes method, path, body and x-check. */
export function serviceAnswer(method: string, path: string, body: string, check: string | undefined): { status: number; body: string } {
  return { status: 200, body: `${method} ${path} ${body} ${check ?? ''}`.trim() }
}
