import fs from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import { toolError } from './errors.js'

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

/**
 * Offset of the first JSON syntax error in a text (JSON.parse's message has no position for some
 * errors in the Node versions the CLI runs on), or undefined when the text is valid JSON.
 */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0
  const space = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++
  }
  const fail = (): never => {
    throw i
  }
  const literal = (word: string) => (text.startsWith(word, i) ? (i += word.length) : fail())
  const string = () => {
    i++  // the opening quote
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) fail()
      if (text[i] === '\\') {
        i++
        if (text[i] === 'u') {
          if (!/^[0-9A-Fa-f]{4}$/.test(text.slice(i + 1, i + 5))) fail()
          i += 4
        } else if (!'"\\/bfnrt'.includes(text[i] ?? 'x')) fail()
      }
      i++
    }
    if (i >= text.length) fail()
    i++
  }
  const value = (): void => {
    space()
    const c = text[i]
    if (c === '{') {
      i++
      space()
      if (text[i] === '}') return void i++
      for (;;) {
        space()
        if (text[i] !== '"') fail()
        string()
        space()
        if (text[i] !== ':') fail()
        i++
        value()
        space()
        if (text[i] === ',') i++
        else if (text[i] === '}') return void i++
        else fail()
      }
    } else if (c === '[') {
      i++
      space()
      if (text[i] === ']') return void i++
      for (;;) {
        value()
        space()
        if (text[i] === ',') i++
        else if (text[i] === ']') return void i++
        else fail()
      }
    } else if (c === '"') string()
    else if (c === 't') literal('true')
    else if (c === 'f') literal('false')
    else if (c === 'n') literal('null')
    else {
      const number = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i))
      if (!number) fail()
      i += number![0].length
    }
  }
  try {
    value()
    space()
    if (i < text.length) fail()
    return undefined
  } catch (offset) {
    if (typeof offset === 'number') return Math.min(offset, text.length)
    throw offset
  }
}

/** Line and column (1-based) of a character offset in a text. */
function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n')
  return `line ${before.length}, column ${before[before.length - 1]!.length + 1}`
}

/**
 * Reads a filter's config from a JSON file (.json) or a YAML file (.yaml, .yml; YAML 1.2, so `yes`
 * stays a string), with an error that names the file and the line and column of a syntax error.
 * Other extensions: JSON when the text starts with `{` or `[`, else YAML.
 */
export function readConfigFile(file: string): unknown {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (error) {
    throw toolError('NODEVOY_ERR_INVALID_ARGUMENT', `cannot read config file ${file}: ${(error as Error).message}`)
  }
  const extension = path.extname(file).toLowerCase()
  const json = extension === '.json' || (extension !== '.yaml' && extension !== '.yml' && /^\s*[[{]/.test(text))
  if (json) {
    try {
      return JSON.parse(text)
    } catch (error) {
      const offset = jsonErrorOffset(text)
      const where = offset === undefined ? '' : ` at ${lineColumn(text, offset)}`
      const found = offset === undefined ? (error as Error).message : offset >= text.length ? 'unexpected end of the text' : `unexpected ${JSON.stringify(text[offset])}`
      throw toolError('NODEVOY_ERR_INVALID_ARGUMENT', `config file ${file} is not valid JSON${where}: ${found}`)
    }
  }
  const document = YAML.parseDocument(text, { prettyErrors: true })
  const problem = document.errors[0]
  if (problem) {
    const at = problem.linePos?.[0]
    const where = at ? ` at line ${at.line}, column ${at.col}` : ''
    const message = problem.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')
    throw toolError('NODEVOY_ERR_INVALID_ARGUMENT', `config file ${file} is not valid YAML${where}: ${message}`)
  }
  return document.toJS()
}
