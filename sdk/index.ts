/**
 * nodevoy: TypeScript filters for Envoy, running in-process on embedded Node.js.
 *
 * @packageDocumentation
 */
export { defineFilter } from './filter.js'
export type { Filter, FilterClass, FilterContext, FilterDefinition, FilterHooks, HookResult } from './filter.js'
export type { HeaderMap, RequestHeaderMap, ResponseHeaderMap, TrailerMap } from './headers.js'
export type { Body, BodyChunk, BodyData } from './body.js'
export type { FilterState, Metadata, MetadataSource, MetadataValue, StreamInfo } from './info.js'
export type { Callbacks, DataPathStats, LogLevel, ReplyHeaders, Stream, StreamSide } from './stream.js'
export { ConfigError, NodevoyError, StreamGoneError, WrongThreadError } from './errors.js'
export type { ConfigIssue, ErrorCode, RuntimeErrorCode, ToolErrorCode } from './errors.js'
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
