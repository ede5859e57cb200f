/** Describes any thrown value, never throwing itself (null-prototype objects, throwing getters, proxies). */
export function describe(error: unknown): string {
  try {
    if (error instanceof Error) {
      const stack = error.stack
      if (typeof stack === 'string' && stack !== '') return stack
      return `${error.name}: ${error.message}`
    }
    return String(error)
  } catch {
    // fall through
  }
  try {
    return Object.prototype.toString.call(error)
  } catch {
    return '(a value that cannot be described)'
  }
}
