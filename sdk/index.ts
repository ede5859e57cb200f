/**
 * nodevoy: TypeScript filters for Envoy, running in-process on embedded Node.js.
 *
 * @packageDocumentation
 */
export { defineFilter } from './filter.js'
export type { Filter, FilterContext, FilterDefinition, FilterHooks, HookResult } from './filter.js'
export type { HeaderMap, RequestHeaderMap, ResponseHeaderMap } from './headers.js'
export type { Callbacks, DataPathStats, LogLevel, ReplyHeaders } from './callbacks.js'
export { ConfigError, NodevoyError, StreamGoneError, WrongThreadError } from './errors.js'
export type { ConfigIssue, ErrorCode } from './errors.js'
export type {
  InferConfig,
  StandardSchemaFailure,
  StandardSchemaIssue,
  StandardSchemaPathSegment,
  StandardSchemaProps,
  StandardSchemaResult,
  StandardSchemaSuccess,
  StandardSchemaTypes,
  StandardSchemaV1,
} from './schema.js'
