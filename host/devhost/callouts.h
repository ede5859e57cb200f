// HTTP callouts from a module filter to a cluster (the ABI's http_callout and start_http_stream
// families), with the semantics of Envoy's AsyncClient behind them:
//   - refused at start: ClusterNotFound (no cluster of that name), MissingRequiredHeaders (no
//     :method, :path or host/:authority);
//   - an upstream that cannot be reached, or resets before answering: the router's 503 local reply
//     ("upstream connect error or disconnect/reset before headers. reset reason: ..."), delivered as
//     the callout's response; the timeout firing before the response starts: 504 "upstream request
//     timeout" (also a response);
//   - a reset after the response started: a one-shot callout ends with result Reset, a streamed one
//     with on_http_filter_http_stream_reset (always LocalReset: Envoy's AsyncClient gives no reason);
//   - the module's own reset_http_stream runs that reset hook at once, inside the call;
//   - when the filter is destroyed its callouts are cancelled without any event.
// Not modelled: the one-shot response buffer limit (ExceedResponseBufferLimit), retries, and the
// headers Envoy's router adds (x-envoy-upstream-service-time, ...).
//
// Threads: everything runs on the filter's worker (W).
#pragma once

namespace devhost {

class FilterSlot;

// W, from ~ActiveStream after the filter's destroy hook: cancels the slot's callouts (no events).
void cancelCallouts(const FilterSlot* slot);

}  // namespace devhost
