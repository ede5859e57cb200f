// The usual test set-up: a local upstream as cluster `backend`, and the proxy under test in front of
// it with a bootstrap config; both stopped on teardown.
import type { Test } from 'tap'
import { bootstrap, type BootstrapDef } from './config.js'
import { startProxy, type Proxy, type StartOptions, type Target } from './proxy.js'
import { startUpstream, type Handler, type Upstream, type UpstreamOptions } from './upstream.js'

export interface ProxyWithUpstreamOptions extends StartOptions {
  /** The upstream's handler (default: startUpstream's echo behaviour). */
  handler?: Handler
  upstreamOptions?: UpstreamOptions
}

export interface ProxyWithUpstream {
  proxy: Proxy
  upstream: Upstream
}

/**
 * Starts a local upstream, then the proxy with bootstrap({ ...def, clusters: { backend: [upstream.port] } });
 * registers the upstream's close and then the proxy's stop as teardowns of `t`.
 */
export async function startProxyWithUpstream(
  t: Test,
  target: Target,
  def: Omit<BootstrapDef, 'clusters'> = {},
  opts: ProxyWithUpstreamOptions = {},
): Promise<ProxyWithUpstream> {
  const { handler, upstreamOptions, ...startOptions } = opts
  const upstream = await startUpstream(handler, upstreamOptions)
  t.teardown(() => upstream.close())
  const proxy = await startProxy(target, bootstrap({ ...def, clusters: { backend: [upstream.port] } }), startOptions)
  t.teardown(() => proxy.stop())
  return { proxy, upstream }
}
