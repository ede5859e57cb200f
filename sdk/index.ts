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
export type { Counter, Gauge, Histogram, LabelsOf, LabelValues, LabelValuesSpec, MetricArgs, Metrics, MetricSpec, MetricsSpec } from './metrics.js'
export type { SharedState, SharedValue, SharedWriteOptions } from './shared.js'
export type { CalloutBody, CalloutHeaders, CalloutInit, CalloutResponse, ResponseHeaders } from './fetch.js'
export type { BackgroundFunction, BackgroundTask, EveryOptions } from './background.js'
export { CalloutError, ConfigError, NodevoyError, StreamGoneError, WrongThreadError } from './errors.js'
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
