// Metrics a filter declares in defineFilter({ metrics }): Envoy counters, gauges and histograms, with
// labels, defined when Envoy creates the filter's config (the only time its ABI allows) and updated
// from hooks (through the stream) or from background work (config-level).
import { NodevoyError } from './errors.js'
import type { NativeBinding } from './internal/binding.js'
import { MetricKind, MetricOp, MetricUpdate } from './internal/contract.js'
import { currentStream } from './internal/current.js'

/**
 * A label's allowed values: a list (anything else is an error: typos cannot create new series), or
 * `'any'` for values only known at run time (bounded by the metric's `maxSeries`).
 */
export type LabelValuesSpec = readonly string[] | 'any'

/** One declared metric. */
export interface MetricSpec {
  /** Envoy's metric kinds. Histogram values are integers (Envoy records unsigned 64-bit values). */
  type: 'counter' | 'gauge' | 'histogram'
  /**
   * Label names, in order, with their allowed values. In Envoy's stats the metric appears as
   * `<metrics_namespace>.<name>.<label>.<value>...`, and in Prometheus as
   * `envoy_<metrics_namespace>_<name>{label="value",...}`.
   */
  labels?: Record<string, LabelValuesSpec>
  /**
   * The most label-value combinations (series) kept for this metric across the whole proxy; new
   * combinations past it are recorded with every label set to `"overflow"` (and a warning logged
   * once). Default: the number of combinations of the declared values when every label lists its
   * values, else 100.
   */
  maxSeries?: number
  /** What the metric measures (for readers of the definition; Envoy has no help text). */
  description?: string
}

/** The metrics a filter declares, by name. A name is letters, digits and `_`. */
export type MetricsSpec = Record<string, MetricSpec>

/** The labels declared for a metric spec (`{}` when it has none). */
export type LabelsOf<S> = S extends Record<'labels', infer L> ? (L extends Record<string, LabelValuesSpec> ? L : {}) : {}

/** The label values of one update: every declared label, with one of its allowed values. */
export type LabelValues<L> = { readonly [K in keyof L]: L[K] extends readonly (infer V)[] ? V : string }

/** Arguments of an update: the label values first when the metric has labels. */
export type MetricArgs<L, Rest extends unknown[]> = [keyof L] extends [never] ? Rest : [labels: LabelValues<L>, ...Rest]

/** A counter: only goes up. */
export interface Counter<L = {}> {
  /** Adds `value` (default 1, a non-negative integer). */
  inc(...args: MetricArgs<L, [value?: number]>): void
}

/** A gauge: a value that goes up and down (never below 0: Envoy's module gauges are unsigned). */
export interface Gauge<L = {}> {
  /** Sets the value (a non-negative integer). */
  set(...args: MetricArgs<L, [value: number]>): void
  /** Adds `value` (default 1). */
  inc(...args: MetricArgs<L, [value?: number]>): void
  /** Subtracts `value` (default 1). */
  dec(...args: MetricArgs<L, [value?: number]>): void
}

/** A histogram: a distribution of values (quantiles in `/stats`, buckets in `/stats/prometheus`). */
export interface Histogram<L = {}> {
  /** Records one value (a non-negative number, rounded to an integer: record milliseconds or microseconds). */
  record(...args: MetricArgs<L, [value: number]>): void
}

/** The handles of declared metrics, by name (what `context.metrics` holds). */
export type Metrics<M extends MetricsSpec> = {
  readonly [K in keyof M]: M[K]['type'] extends 'counter'
    ? Counter<LabelsOf<M[K]>>
    : M[K]['type'] extends 'gauge'
      ? Gauge<LabelsOf<M[K]>>
      : Histogram<LabelsOf<M[K]>>
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const KINDS: Record<string, MetricKind> = { counter: MetricKind.Counter, gauge: MetricKind.Gauge, histogram: MetricKind.Histogram }
const DEFAULT_MAX_SERIES = 100
const MAX_SERIES_LIMIT = 100000
const MAX_LABEL_VALUE = 256
/** Config-level updates kept for a later stream when this Envoy has none (v1.38). */
const MAX_PENDING = 10000

function invalid(message: string): NodevoyError {
  return new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', message)
}

/** A checked declaration, in the order libnodevoy defines it. */
export interface MetricDeclaration {
  name: string
  kind: MetricKind
  labels: string[]
  allowed: (Set<string> | undefined)[]
  maxSeries: number
}

/** Checks a filter's metrics declaration (at defineFilter): names, kinds, labels, caps. */
export function checkMetricsSpec(filterName: string, spec: unknown): MetricDeclaration[] {
  if (spec === undefined) return []
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw invalid(`defineFilter(${filterName}): \`metrics\` must be an object of metric declarations by name`)
  }
  const out: MetricDeclaration[] = []
  for (const [name, raw] of Object.entries(spec as Record<string, unknown>)) {
    const where = `defineFilter(${filterName}): metric '${name}'`
    if (!NAME.test(name)) throw invalid(`${where}: a metric name is letters, digits and _, not starting with a digit`)
    const def = raw as Partial<MetricSpec> | null
    if (!def || typeof def !== 'object') throw invalid(`${where}: must be { type: 'counter' | 'gauge' | 'histogram', ... }`)
    const kind = KINDS[def.type as string]
    if (kind === undefined) throw invalid(`${where}: type must be 'counter', 'gauge' or 'histogram', got ${JSON.stringify(def.type)}`)
    const labels: string[] = []
    const allowed: (Set<string> | undefined)[] = []
    let combinations = 1
    if (def.labels !== undefined) {
      if (def.labels === null || typeof def.labels !== 'object' || Array.isArray(def.labels)) {
        throw invalid(`${where}: labels must be an object: { labelName: ['value', ...] | 'any' }`)
      }
      for (const [label, values] of Object.entries(def.labels)) {
        if (!NAME.test(label)) throw invalid(`${where}: label '${label}': a label name is letters, digits and _`)
        if (values === 'any') {
          allowed.push(undefined)
          combinations = Infinity
        } else if (Array.isArray(values) && values.length > 0 && values.every((v) => typeof v === 'string' && v !== '')) {
          allowed.push(new Set(values as string[]))
          combinations *= new Set(values as string[]).size
        } else {
          throw invalid(`${where}: label '${label}' must list its values (non-empty strings) or be 'any'`)
        }
        labels.push(label)
      }
    }
    let maxSeries = def.maxSeries ?? (Number.isFinite(combinations) && labels.length > 0 ? Math.min(combinations, MAX_SERIES_LIMIT) : DEFAULT_MAX_SERIES)
    if (!Number.isInteger(maxSeries) || maxSeries < 1 || maxSeries > MAX_SERIES_LIMIT) {
      throw invalid(`${where}: maxSeries must be an integer 1..${MAX_SERIES_LIMIT}`)
    }
    if (labels.length === 0) maxSeries = 1
    out.push({ name, kind, labels, allowed, maxSeries })
  }
  return out
}

/** Declarations in the binding's form: [name, kind, labels, maxSeries]. */
export function declarationRows(declarations: MetricDeclaration[]): [string, number, string[], number][] {
  return declarations.map((d) => [d.name, d.kind, d.labels, d.maxSeries])
}

/** What the SDK keeps of a config's metrics in one environment. */
export interface MetricsRuntime {
  /** The handles, by name (undeclared names throw). */
  handles: Record<string, unknown>
  /** Applies updates that waited for a stream (Envoy without config-level updates), through this one. */
  flushPending(token: number): void
}

/** Makes the handles of a config's declared metrics in one environment. */
export function createMetrics(binding: NativeBinding, filterName: string, configId: number, declarations: MetricDeclaration[]): MetricsRuntime {
  const pending: [number, MetricOp, string[], number][] = []
  let droppedWarned = false
  const update = (index: number, op: MetricOp, labels: string[], value: number): void => {
    const stream = currentStream()
    if (stream !== undefined && stream.configId === configId) {
      binding.streamMetric(stream.token, index, op, labels, value)
      return
    }
    if (binding.configMetric(configId, index, op, labels, value) === MetricUpdate.NeedsStream) {
      if (pending.length < MAX_PENDING) {
        pending.push([index, op, labels, value])
      } else if (!droppedWarned) {
        droppedWarned = true
        binding.log(3, `[${filterName}] metric updates from background work wait for a stream on this Envoy (no config-level updates before v1.39); more than ${MAX_PENDING} waited, the rest are dropped`)
      }
    }
  }
  const handles: Record<string, unknown> = Object.create(
    new Proxy(
      {},
      {
        get(_target, property) {
          if (typeof property === 'symbol' || property === 'then' || property === 'toJSON') return undefined
          const names = declarations.map((d) => d.name).join(', ') || 'none'
          throw invalid(`filter '${filterName}' declares no metric '${property}' (declared: ${names}); declare it in defineFilter({ metrics })`)
        },
      },
    ),
  )
  declarations.forEach((declaration, index) => {
    const { name, kind, labels } = declaration
    const labelled = labels.length > 0
    const where = `metric '${name}'`
    // The label values of an update, checked; and the numeric argument that follows them.
    const parse = (args: unknown[], valueRequired: boolean, fallback: number): [string[], number] => {
      let values: string[] = []
      let rest = args
      if (labelled) {
        const given = args[0]
        if (given === null || typeof given !== 'object') {
          throw invalid(`${where} takes labels ${labels.join(', ')}: pass them first, e.g. { ${labels.map((l) => `${l}: '...'`).join(', ')} }`)
        }
        const keys = Object.keys(given)
        if (keys.length !== labels.length || !labels.every((l) => Object.prototype.hasOwnProperty.call(given, l))) {
          throw invalid(`${where} takes labels ${labels.join(', ')}; got ${keys.join(', ') || 'none'}`)
        }
        values = labels.map((label, i) => {
          const value = (given as Record<string, unknown>)[label]
          if (typeof value !== 'string') throw invalid(`${where}: label ${label} must be a string, got ${typeof value}`)
          if (value.length > MAX_LABEL_VALUE) throw invalid(`${where}: label ${label} is longer than ${MAX_LABEL_VALUE} characters`)
          const allowedValues = declaration.allowed[i]
          if (allowedValues && !allowedValues.has(value)) {
            throw invalid(`${where}: label ${label} = ${JSON.stringify(value)} is not one of its declared values (${[...allowedValues].join(', ')})`)
          }
          return value
        })
        rest = args.slice(1)
      }
      const raw = rest[0]
      if (raw === undefined && !valueRequired) return [values, fallback]
      if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < 0) {
        throw invalid(`${where}: the value must be a non-negative number, got ${raw === undefined ? 'nothing' : String(raw)}`)
      }
      return [values, Math.round(raw)]
    }
    let handle: object
    if (kind === MetricKind.Counter) {
      handle = { inc: (...args: unknown[]) => update(index, MetricOp.Add, ...parse(args, false, 1)) }
    } else if (kind === MetricKind.Gauge) {
      handle = {
        set: (...args: unknown[]) => update(index, MetricOp.Set, ...parse(args, true, 0)),
        inc: (...args: unknown[]) => update(index, MetricOp.Add, ...parse(args, false, 1)),
        dec: (...args: unknown[]) => update(index, MetricOp.Subtract, ...parse(args, false, 1)),
      }
    } else {
      handle = { record: (...args: unknown[]) => update(index, MetricOp.Record, ...parse(args, true, 0)) }
    }
    Object.defineProperty(handles, name, { value: Object.freeze(handle), enumerable: true })
  })
  Object.freeze(handles)
  return {
    handles,
    flushPending(token: number) {
      if (pending.length === 0) return
      const waiting = pending.splice(0, pending.length)
      try {
        for (const [index, op, labels, value] of waiting) binding.streamMetric(token, index, op, labels, value)
      } catch {
        // the stream cannot take them (gone): these updates are lost, the hook goes on
      }
    },
  }
}
