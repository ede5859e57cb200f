// nodevoy init [dir]: scaffolds a filter project — a filter with a typed config, its config, a test
// that passes (node:test, through the dev host), a tsconfig on nodevoy's preset, npm scripts — and
// merges into an existing package.json without replacing what is there.
import fs from 'node:fs'
import path from 'node:path'
import { toolError } from '../lib/errors.js'
import { packageRoot } from '../lib/paths.js'
import { runtimeInfo } from '../lib/runtimes.js'

export interface InitOptions {
  /** The filter's name (default: the directory's name, as a valid filter name). */
  name?: string
  /** Overwrite files that exist (package.json is always merged, never replaced). */
  force?: boolean
  /** Where to print what was done (default stderr). */
  log?: (line: string) => void
}

const FILTER = (name: string) => `// The "${name}" filter: answers 403 to requests carrying the deny header, and adds a greeting
// header to every response. \`npm run dev\` runs it locally with hot reload; \`npm test\` tests it.
import { defineFilter } from 'nodevoy'
import { z } from 'zod'

export default defineFilter({
  name: '${name}',
  // Any Standard Schema validator works here (zod, valibot, arktype, ...); Envoy refuses configs
  // it rejects, naming the field.
  config: z.object({
    greeting: z.string().min(1),
    denyHeader: z.string().default('x-deny'),
  }),
  // Once per Envoy worker, before traffic: per-config setup goes here.
  create(config, { log }) {
    log('info', \`greeting with "\${config.greeting}"\`)
    return {
      onRequestHeaders(headers, stream) {
        if (headers.get(config.denyHeader) !== undefined) {
          return stream.sendLocalReply(403, 'denied\\n')
        }
      },
      onResponseHeaders(headers) {
        headers.set('x-greeting', config.greeting)
      },
    }
  },
})
`

const TEST = `// Runs the filter for real — bundled, in libnodevoy, inside the dev host — and sends it HTTP.
// \`npm test\` runs this file with node:test (tsx loads the TypeScript).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startFilter } from 'nodevoy/devhost'

const entry = new URL('../src/filter.ts', import.meta.url)

test('adds the greeting to responses', async (t) => {
  const filter = await startFilter(entry, { config: { greeting: 'hello' } })
  t.after(() => filter.stop())
  const res = await fetch(filter.url + '/')
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('x-greeting'), 'hello')
})

test('answers 403 to requests with the deny header', async (t) => {
  const filter = await startFilter(entry, { config: { greeting: 'hello', denyHeader: 'x-block' } })
  t.after(() => filter.stop())
  const res = await fetch(filter.url + '/', { headers: { 'x-block': '1' } })
  assert.equal(res.status, 403)
  assert.equal(await res.text(), 'denied\\n')
})

test('a config without a greeting is refused, naming the field', async () => {
  await assert.rejects(startFilter(entry, { config: {} }), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'NODEVOY_ERR_INVALID_CONFIG')
    assert.match(error.message, /greeting/)
    return true
  })
})
`

const TSCONFIG = {
  // nodevoy's preset: lib, target and Node types of the runtime the filter runs in (Node 18.20).
  extends: 'nodevoy/tsconfig.json',
  include: ['src', 'test'],
}

const GITIGNORE = 'node_modules/\nnodevoy-out/\n'

/** A filter name from a directory name: lower case letters, digits and dashes. */
function filterName(dir: string): string {
  const base = path.basename(path.resolve(dir)).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '')
  return base || 'my-filter'
}

export function init(dir: string, options: InitOptions = {}): string[] {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'))
  const root = path.resolve(dir)
  const name = options.name ?? filterName(root)
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    throw toolError('NODEVOY_ERR_INVALID_ARGUMENT', `--name must be letters, digits, ".", "_" or "-", got "${name}"`)
  }
  fs.mkdirSync(root, { recursive: true })
  const ours = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as {
    version: string
    devDependencies?: Record<string, string>
  }
  const tested = (pkg: string, fallback: string) => ours.devDependencies?.[pkg] ?? fallback

  const written: string[] = []
  const write = (file: string, content: string) => {
    const target = path.join(root, file)
    if (fs.existsSync(target) && !options.force) {
      log(`  kept ${file} (exists; --force overwrites it)`)
      return
    }
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.writeFileSync(target, content)
    written.push(file)
    log(`  wrote ${file}`)
  }

  // package.json: merged, never replaced; existing entries win.
  const manifestPath = path.join(root, 'package.json')
  let manifest: Record<string, unknown> = {}
  const existed = fs.existsSync(manifestPath)
  if (existed) {
    try {
      manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as Record<string, unknown>
    } catch (error) {
      throw toolError('NODEVOY_ERR_INVALID_ARGUMENT', `${manifestPath} is not JSON (${(error as Error).message}); fix it and run init again`)
    }
  }
  const section = (key: string) => ((manifest[key] ??= {}) as Record<string, string>)
  const has = (pkg: string) => [manifest.dependencies, manifest.devDependencies].some((d) => d && pkg in (d as object))
  manifest.name ??= name
  manifest.private ??= true
  manifest.type ??= 'module'
  const scripts = section('scripts')
  const defaults: Record<string, string> = {
    dev: 'nodevoy dev src/filter.ts --config config.json',
    build: 'nodevoy build src/filter.ts --config config.json',
    typecheck: 'tsc',
    test: 'node --import tsx --test test/*.test.ts',
  }
  for (const [script, command] of Object.entries(defaults)) {
    if (scripts[script] === undefined || /^echo "Error: no test specified"/.test(scripts[script]!)) scripts[script] = command
  }
  if (!has('nodevoy')) section('dependencies').nodevoy = `^${ours.version}`
  if (!has('zod')) section('dependencies').zod = tested('zod', '^4.0.0')
  const devDependencies = section('devDependencies')
  if (!has('typescript')) devDependencies.typescript = tested('typescript', '^5.4.0')
  if (!has('tsx')) devDependencies.tsx = tested('tsx', '^4.0.0')
  if (!has('@types/node')) devDependencies['@types/node'] = runtimeInfo().typesNode
  fs.writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n')
  log(`  ${existed ? 'updated' : 'wrote'} package.json (scripts: dev, build, typecheck, test)`)

  write('src/filter.ts', FILTER(name))
  write('config.json', JSON.stringify({ greeting: 'hello from nodevoy' }, null, 2) + '\n')
  write('test/filter.test.ts', TEST)
  write('tsconfig.json', JSON.stringify(TSCONFIG, null, 2) + '\n')
  write('.gitignore', GITIGNORE)
  const where = path.relative(process.cwd(), root)
  log(
    `filter "${name}" is ready${where ? ` in ${where}` : ''}. Next:\n` +
      `${where ? `  cd ${where}\n` : ''}` +
      '  npm install          # zod, typescript, tsx, @types/node for Node 18\n' +
      '  npx nodevoy setup    # once per machine: the Node 18 runtime the dev host embeds\n' +
      '  npm test             # the filter in the dev host, through real HTTP\n' +
      '  npm run dev          # http://127.0.0.1:10000, rebuilt on every save\n' +
      '  npm run build        # bundle.js, libnodevoy.so, envoy.yaml, Dockerfile in nodevoy-out/',
  )
  return written
}
