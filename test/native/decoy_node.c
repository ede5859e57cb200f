/* Names libnode itself defines: N-API and V8's C++ API (by its mangled name), as an Envoy with its
 * Wasm V8 exported would have. Not napi_create_object nor v8::V8::Initialize (the old sentinels). */
#include <stddef.h>
__attribute__((visibility("default"))) int napi_get_undefined(void* env, void** result) { return 9; }
/* v8::Isolate::GetCurrent() */
__attribute__((visibility("default"))) void* v8_isolate_get_current(void) __asm__("_ZN2v87Isolate10GetCurrentEv");
void* v8_isolate_get_current(void) { return NULL; }
