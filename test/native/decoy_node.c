/* Names libnode itself defines: N-API and V8's C++ API (by its mangled name), as an Envoy with its
 * Wasm V8 exported would have. Not napi_create_object nor v8::V8::Initialize (the old sentinels). */
#include <stddef.h>

#include "decoy.h"

DECOY int napi_get_undefined(void* env, void** result) {
  decoy_called("napi_get_undefined");
  return 9; /* napi_generic_failure */
}

/* v8::Isolate::GetCurrent() */
DECOY void* v8_isolate_get_current(void) __asm__("_ZN2v87Isolate10GetCurrentEv");
void* v8_isolate_get_current(void) {
  decoy_called("v8::Isolate::GetCurrent");
  return NULL;
}
