/** An error the CLI reports as one clear line (what is wrong and what to do), without a stack. */
export class CliError extends Error {
  override name = 'CliError'
}
