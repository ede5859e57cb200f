// The header rules libnodevoy applies where JS strings become header bytes (host/module/header_rules.cc),
// restated for the testing kit so a write the proxy refuses is refused here too, with the same words.
// The scenario table (test/scenarios) holds the two to the same behaviour.

/** Which header list a write goes to. */
export type HeaderTarget = 'request' | 'request trailers' | 'response' | 'response trailers' | 'local reply'
export type HeaderWrite = 'set' | 'add' | 'remove'

const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

function byteName(code: number): string {
  const hex = code.toString(16).toUpperCase().padStart(2, '0')
  const name = code === 0 ? ' (NUL)' : code === 13 ? ' (CR)' : code === 10 ? ' (LF)' : code === 32 ? ' (space)' : ''
  return `byte 0x${hex}${name}`
}

function pseudoAllowed(name: string, target: HeaderTarget): boolean {
  if (target === 'request') return [':method', ':path', ':authority', ':scheme', ':protocol'].includes(name)
  if (target === 'response') return name === ':status'
  return false
}

function targetName(target: HeaderTarget): string {
  return target === 'local reply' ? "a local reply's headers" : `${target}${target.endsWith('s') ? '' : ' headers'}`
}

function checkPseudoValue(name: string, value: string): string {
  if (name === ':status') return /^[1-9][0-9]{2}$/.test(value) ? '' : 'must be a 3-digit status code 100-999'
  if (name === ':method' || name === ':protocol') return TCHAR.test(value) ? '' : "must be a token (letters, digits and !#$%&'*+-.^_`|~)"
  if (name === ':scheme') return /^[A-Za-z][A-Za-z0-9+\-.]*$/.test(value) ? '' : 'must be a URI scheme such as http or https'
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c <= 0x20 || c >= 0x7f) {
      return `${byteName(c)} at index ${i} is not allowed: ${name} must be visible ASCII (percent-encode spaces and non-ASCII bytes)`
    }
    if (name === ':authority' && (c === 0x2f || c === 0x3f || c === 0x23)) return `${byteName(c)} at index ${i} is not allowed in :authority (host[:port])`
  }
  if (name === ':path' && (value === '' || (value[0] !== '/' && value !== '*'))) return "must start with '/' (or be '*')"
  return ''
}

/** Index of the first character above U+00FF, or -1. */
export function firstNonByte(text: string): number {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return i
  return -1
}

export function notByteMessage(text: string, index: number): string {
  const unit = text.charCodeAt(index).toString(16).toUpperCase().padStart(4, '0')
  return (
    `code unit U+${unit} at index ${index} is not a byte: header names and values are byte strings (latin1), never narrowed silently; ` +
    "to send UTF-8 text, encode it first, e.g. Buffer.from(text, 'utf8').toString('latin1')"
  )
}

/** Empty when `name` (lower-cased) may be written to `target`; else what is wrong. */
export function checkHeaderName(name: string, target: HeaderTarget, write: HeaderWrite): string {
  if (name === '') return 'the name is empty'
  if (name.startsWith(':')) {
    if (target === 'local reply') return "pseudo-headers cannot be set in a local reply (its status is sendLocalReply's status argument)"
    if (!pseudoAllowed(name, target)) return `pseudo-header ${name} does not exist in ${targetName(target)}`
    if (write === 'remove') return 'pseudo-headers can be changed with set() but not removed'
    if (write === 'add') return 'a pseudo-header has one value: use set(), not add()'
    return ''
  }
  for (let i = 0; i < name.length; i++) {
    if (!TCHAR.test(name[i]!)) {
      return `${byteName(name.charCodeAt(i))} at index ${i} is not allowed: a header name must be a token (letters, digits and !#$%&'*+-.^_\`|~)`
    }
  }
  if (target === 'local reply' && (name === 'content-length' || name === 'transfer-encoding')) {
    return `${name} cannot be set in a local reply: Envoy frames the reply from its body`
  }
  return ''
}

/** Empty when `value` is valid for `name` in `target`; else what is wrong. */
export function checkHeaderValue(name: string, value: string, target: HeaderTarget, write: HeaderWrite): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c === 0 || c === 13 || c === 10) return `${byteName(c)} at index ${i} is not allowed: a header value must not contain NUL, CR or LF`
  }
  if (value === '' && write !== 'remove' && target !== 'local reply') {
    return "the value is empty, and Envoy's module ABI cannot store an empty header value (use remove())"
  }
  if (name.startsWith(':')) return checkPseudoValue(name, value)
  return ''
}

/** A string quoted for an error message: printable ASCII as is, the rest escaped. */
export function quoteForMessage(text: string): string {
  let out = '"'
  let shown = 0
  for (const char of text) {
    if (++shown > 64) {
      out += '...'
      break
    }
    const c = char.codePointAt(0)!
    if (c >= 0x20 && c < 0x7f && char !== '"' && char !== '\\') out += char
    else out += c <= 0xff ? `\\x${c.toString(16).toUpperCase().padStart(2, '0')}` : `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`
  }
  return out + '"'
}
