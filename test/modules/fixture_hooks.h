/*
 * Shared body of the small conformance fixtures in this directory: every HTTP-filter hook of Envoy's
 * dynamic-module ABI except on_program_init and on_http_filter_config_new, all doing nothing (every
 * status is Continue, every handle is a static sentinel, nothing is allocated). The hooks themselves are
 * the no-op ones of host/abi/nodevoy_noop_hooks.h, which the reference modules use too.
 *
 * A fixture defines on_program_init and on_http_filter_config_new itself, then includes this file.
 * Define FIXTURE_OMIT_RESPONSE_TRAILERS before the include to leave
 * envoy_dynamic_module_on_http_filter_response_trailers out (missing_hook.c).
 *
 * Not a .c file on purpose: host/Makefile builds every .c file in test/modules into a module of its own.
 */
#ifndef NODEVOY_TEST_FIXTURE_HOOKS_H
#define NODEVOY_TEST_FIXTURE_HOOKS_H

#include "nodevoy_noop_hooks.h"

static const char fixture_config_sentinel = 'c';
static const char fixture_stream_sentinel = 's';
static const char fixture_route_sentinel = 'r';

NV_NOOP_HOOK_CONFIG_DESTROY()
NV_NOOP_HOOKS_PER_ROUTE_CONFIG(&fixture_route_sentinel)

NV_NOOP_HOOK_FILTER_NEW(&fixture_stream_sentinel)
NV_NOOP_HOOK_REQUEST_HEADERS()
NV_NOOP_HOOK_REQUEST_BODY()
NV_NOOP_HOOK_REQUEST_TRAILERS()
NV_NOOP_HOOK_RESPONSE_HEADERS()
NV_NOOP_HOOK_RESPONSE_BODY()
#ifndef FIXTURE_OMIT_RESPONSE_TRAILERS
NV_NOOP_HOOK_RESPONSE_TRAILERS()
#endif
NV_NOOP_HOOK_STREAM_COMPLETE()
NV_NOOP_HOOK_DESTROY()

NV_NOOP_HOOKS_CALLOUTS_SCHEDULER_WATERMARKS()

#endif /* NODEVOY_TEST_FIXTURE_HOOKS_H */
