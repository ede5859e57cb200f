// Errors of the tools (CLI, nodevoy/devhost): every one is a NodevoyError with a code (sdk/errors.ts)
// and a message that says what is wrong and what to do; the CLI prints the message alone.
import { NodevoyError, type ErrorCode } from '../../sdk/errors.js'

export { ConfigError, NodevoyError } from '../../sdk/errors.js'
export type { ConfigIssue, ErrorCode } from '../../sdk/errors.js'

/** A coded error with a message for the user. */
export function toolError(code: ErrorCode, message: string): NodevoyError {
  return new NodevoyError(code, message)
}

/**
 * How messages name the settings a user can change: CLI flags for `nodevoy build`/`dev`, option
 * names for `startFilter`.
 */
export interface Terms {
  /** How to choose one of several filters, e.g. "--filter <name>". */
  filter: string
  /** How to pass the filter's config, e.g. "--config <file>". */
  config: string
  /** The upstream setting, e.g. "--upstream". */
  upstream: string
  /** The callout clusters setting, e.g. "--cluster". */
  cluster: string
}

export const CLI_TERMS: Terms = { filter: '--filter <name>', config: '--config <file.json|file.yaml>', upstream: '--upstream', cluster: '--cluster' }
export const API_TERMS: Terms = { filter: 'the `filter` option', config: 'the `config` option', upstream: 'the `upstream` option', cluster: 'the `clusters` option' }
