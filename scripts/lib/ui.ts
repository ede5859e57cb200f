import fs from 'node:fs'
import { CliError } from './errors.js'

/** Runs a step, printing its name when it takes more than a second, and its duration then. */
export async function progress<T>(log: (line: string) => void, step: string, run: () => Promise<T>): Promise<T> {
  const start = Date.now()
  const timer = setTimeout(() => log(`${step}...`), 1000)
  try {
    const result = await run()
    const ms = Date.now() - start
    if (ms >= 1000) log(`${step}: done in ${(ms / 1000).toFixed(1)} s`)
    return result
  } finally {
    clearTimeout(timer)
  }
}

/** Reads a JSON file holding a filter's config, with an error that says which file and why. */
export function readConfigFile(file: string): unknown {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (error) {
    throw new CliError(`cannot read config file ${file}: ${(error as Error).message}`)
  }
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new CliError(`config file ${file} is not JSON: ${(error as Error).message}`)
  }
}
