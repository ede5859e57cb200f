// Standard Schema (https://standardschema.dev, v1): the interface zod (3.24+ and 4), valibot (1+),
// arktype (2+) and other validators implement, so a filter's config can use any of them. Declared
// here from the specification (the spec asks implementers to declare the types themselves rather
// than depend on a package), and turned into nodevoy's ConfigIssue list.
import type { ConfigIssue } from './errors.js'

/**
 * A Standard Schema (v1): any validator with a `~standard` property, e.g. a zod, valibot or arktype
 * schema. nodevoy calls `~standard.validate` on the config and gives `create` its output.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The Standard Schema properties. */
  readonly '~standard': StandardSchemaProps<Input, Output>
}

/** The `~standard` property of a {@link StandardSchemaV1}. */
export interface StandardSchemaProps<Input = unknown, Output = Input> {
  /** The version of the Standard Schema specification: 1. */
  readonly version: 1
  /** The library that made the schema, e.g. `"zod"`. */
  readonly vendor: string
  /** Validates a value: the (possibly transformed) value, or the issues found. */
  readonly validate: (value: unknown) => StandardSchemaResult<Output> | Promise<StandardSchemaResult<Output>>
  /** The schema's input and output types (for type inference only; absent at run time). */
  readonly types?: StandardSchemaTypes<Input, Output> | undefined
}

/** The input and output types a Standard Schema declares. */
export interface StandardSchemaTypes<Input, Output> {
  /** What the schema accepts. */
  readonly input: Input
  /** What validation produces (after defaults and transforms). */
  readonly output: Output
}

/** What `~standard.validate` returns: `{ value }` on success, `{ issues }` on failure. */
export type StandardSchemaResult<Output> = StandardSchemaSuccess<Output> | StandardSchemaFailure

/** A successful validation. */
export interface StandardSchemaSuccess<Output> {
  /** The validated value. */
  readonly value: Output
  /** Absent on success. */
  readonly issues?: undefined
}

/** A failed validation. */
export interface StandardSchemaFailure {
  /** Every problem found. */
  readonly issues: ReadonlyArray<StandardSchemaIssue>
}

/** One problem a Standard Schema found. */
export interface StandardSchemaIssue {
  /** What is wrong. */
  readonly message: string
  /** Where: keys, or segments holding a key. */
  readonly path?: ReadonlyArray<PropertyKey | StandardSchemaPathSegment> | undefined
}

/** A segment of an issue's path that holds its key. */
export interface StandardSchemaPathSegment {
  /** The key. */
  readonly key: PropertyKey
}

/** The config type `create` receives for a schema: the schema's output type. */
export type InferConfig<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['output']

/** True when `value` looks like a Standard Schema (has `~standard.validate`). */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  const props = (value as { '~standard'?: { validate?: unknown } } | null | undefined)?.['~standard']
  return typeof props === 'object' && props !== null && typeof props.validate === 'function'
}

/** A Standard Schema issue as nodevoy's ConfigIssue: the path as strings and numbers. */
export function toConfigIssue(issue: StandardSchemaIssue): ConfigIssue {
  const path = (issue.path ?? []).map((segment) => {
    const key = typeof segment === 'object' && segment !== null ? segment.key : segment
    return typeof key === 'number' ? key : String(key)
  })
  return { path, message: String(issue.message) }
}
