// What the bundler does to esbuild's output (scripts/bundle.ts): the undici marker on the first line,
// and comments made ASCII so V8 keeps the bundle's source as a one-byte string.
import fs from 'node:fs'
import t from 'tap'
import { asciiComments, markUndiciUse } from '../../scripts/bundle.js'
import { BUNDLE_UNDICI_MARKER } from '../../sdk/internal/contract.js'
import { bundled } from '../harness/nodevoy.js'

const pending = `${BUNDLE_UNDICI_MARKER}pending\n`

t.test('the undici marker says used for a reference through globalThis, unused otherwise', async (t) => {
  for (const code of ['globalThis.fetch(u)', 'globalThis?.Headers', "new globalThis['Response']()", 'globalThis[`FormData`]']) {
    t.equal(markUndiciUse(pending + code).split('\n')[0], `${BUNDLE_UNDICI_MARKER}used`, code)
  }
  for (const code of ['stream.fetch(u)', 'globalThis.fetcher', 'globalThis.Requests', 'const fetch = 1']) {
    t.equal(markUndiciUse(pending + code).split('\n')[0], `${BUNDLE_UNDICI_MARKER}unused`, code)
  }
  t.equal(markUndiciUse('fetch(u)'), 'fetch(u)', 'code without the pending line is left alone')
})

t.test('non-ASCII characters are replaced in line comments only, one per UTF-16 unit', async (t) => {
  const comments = 'const a = 1\n  // a dash \u2014 and an emoji \u{1F600}\nconst b = 2\n'
  const replaced = asciiComments(comments)
  t.equal(replaced, 'const a = 1\n  // a dash ? and an emoji ??\nconst b = 2\n')
  t.equal(replaced.length, comments.length, 'columns unchanged')
  for (const other of ['// \u2014\nconst s = "\u2014"\n', '// \u2014\nconst a = 1 // \u2014\n', '/* caf\u00e9 */\n']) {
    t.equal(asciiComments(other), other, `a non-ASCII character outside a line comment: left as it is (${JSON.stringify(other)})`)
  }
})

t.test('a bundle with non-ASCII comments in its sources is ASCII', async (t) => {
  // zod and the SDK have comments with dashes and accented letters.
  const code = fs.readFileSync(await bundled('examples/basic-auth/filter.ts'), 'utf8')
  t.notOk(/[^\x00-\x7f]/.test(code), 'no non-ASCII character')
})
