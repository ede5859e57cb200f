#!/usr/bin/env node
// The nodevoy command line: init, dev, build, config, setup.
import { Command, InvalidArgumentError, Option } from 'commander'
import { build } from './commands/build.js'
import { printConfig } from './commands/config.js'
import { startDev } from './commands/dev.js'
import { init } from './commands/init.js'
import { setup } from './commands/setup.js'
import { NodevoyError } from './lib/errors.js'
import { packageRoot } from './lib/paths.js'
import { RUNTIME_NAMES, RUNTIMES } from './lib/runtimes.js'
import fs from 'node:fs'
import path from 'node:path'

const version = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).version as string

const port = (value: string) => {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port number 0..65535')
  return n
}
const positive = (value: string) => {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new InvalidArgumentError('an integer 1..256')
  return n
}
// A repeatable option's values, in order.
const collect = (value: string, previous: string[]) => [...previous, value]
const LOG_LEVELS = ['trace', 'debug', 'info', 'warning', 'warn', 'error', 'critical', 'off']

const program = new Command()
  .name('nodevoy')
  .description('TypeScript filters for Envoy, running in-process on embedded Node.js')
  .version(version)
  .showHelpAfterError()

/** --runtime's value, or a clear error naming the runtimes there are. */
function runtimeOption(value: string): string {
  if (!RUNTIMES[value]) throw new NodevoyError('NODEVOY_ERR_INVALID_ARGUMENT', `--runtime must be one of ${RUNTIME_NAMES.join(', ')}, got "${value}"`)
  return value
}

program
  .command('init')
  .description('create a filter project: filter.ts, config.json, a passing test, tsconfig.json, npm scripts')
  .argument('[dir]', 'the project directory (created if missing)', '.')
  .option('--name <name>', "the filter's name (default: from the directory)")
  .option('--force', 'overwrite files that already exist')
  .action((dir: string, opts) => {
    init(dir, { name: opts.name, force: !!opts.force })
  })

program
  .command('dev')
  .description('run a filter locally in the dev host, rebuilding and swapping it in on every change')
  .argument('<entry>', 'the filter entry file, e.g. filter.ts')
  .option('-u, --upstream <host:port>', 'where requests go after the filter: IPv4 or host name (default: a direct 200 response)')
  .option('--cluster <name=host:port>', 'a cluster for the filter\'s callouts, stream.fetch(name, ...): IPv4 or host name (repeatable)', collect, [])
  .option('-p, --port <port>', 'listening port (0: any free port)', port, 10000)
  .option('--host <address>', 'listening address (0.0.0.0 to reach it from outside a container)', '127.0.0.1')
  .option('-c, --config <file>', "the filter's config (JSON or YAML); changes are picked up too")
  .option('-f, --filter <name>', 'which filter of the entry to run (when it exports several)')
  .option('--concurrency <n>', 'worker threads (each runs its own Node environment)', positive, 2)
  .addOption(new Option('-l, --log-level <level>', "the dev host's log level").choices(LOG_LEVELS).default('info'))
  .option('--inspect [host:port]', "open Node's debugger on the worker's environment (one worker; default 127.0.0.1:9229)")
  .action(async (entry: string, opts) => {
    const session = startDev(entry, {
      upstream: opts.upstream,
      clusters: opts.cluster,
      port: opts.port,
      host: opts.host,
      config: opts.config,
      filter: opts.filter,
      concurrency: opts.concurrency,
      logLevel: opts.logLevel,
      inspect: opts.inspect === true ? '127.0.0.1:9229' : opts.inspect,
    })
    // Every way out stops the dev host and removes the temporary files; a second signal (a terminal
    // may deliver Ctrl-C to the whole process group twice) does not cut that short.
    let stopping = false
    const stop = () => {
      if (stopping) return
      stopping = true
      void session.stop().then(() => process.exit(0))
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
    await session.ready
  })

program
  .command('build')
  .description('bundle a filter, check it in libnodevoy, and write what Envoy needs: bundle.js (+ map), libnodevoy.so, envoy.yaml, Dockerfile')
  .argument('<entry>', 'the filter entry file (TypeScript or JavaScript), e.g. filter.ts')
  .option('-o, --out <dir>', 'output directory', 'nodevoy-out')
  .option('-f, --filter <name>', 'which filter of the entry to configure (when it exports several)')
  .option('-c, --config <file>', "the filter's config (JSON or YAML), checked against its schema and put in envoy.yaml")
  .option('-u, --upstream <host:port>', 'the service behind Envoy: IPv4, [IPv6] or a host name (STRICT_DNS)', '127.0.0.1:8080')
  .option('--cluster <name=host:port>', 'a cluster for the filter\'s callouts, stream.fetch(name, ...) (repeatable)', collect, [])
  .option('--bundle-path <path>', 'absolute path of bundle.js where Envoy runs', '/etc/nodevoy/bundle.js')
  .option('--fail-open', 'let requests through when the filter throws (default: answer 500)')
  .option('-q, --quiet', 'print nothing on success')
  .option('-r, --runtime <name>', `the Node runtime to deploy on: ${RUNTIME_NAMES.join(', ')} (default: the newest whose libnode runs here, or NODEVOY_RUNTIME)`)
  .action(async (entry: string, opts) => {
    await build(entry, {
      runtime: opts.runtime === undefined ? undefined : runtimeOption(opts.runtime),
      out: opts.out,
      filter: opts.filter,
      config: opts.config,
      upstream: opts.upstream,
      clusters: opts.cluster,
      bundlePath: opts.bundlePath,
      failOpen: !!opts.failOpen,
      quiet: !!opts.quiet,
    })
  })

program
  .command('config')
  .description("print the Envoy http_filters entry for a built bundle, for your own envoy.yaml")
  .argument('<bundle>', 'bundle.js written by `nodevoy build`')
  .option('-f, --filter <name>', 'which filter of the bundle (when it exports several)')
  .option('-c, --config <file>', "the filter's config (JSON or YAML), checked against its schema")
  .option('--bundle-path <path>', 'absolute path of bundle.js where Envoy runs (default: this file)')
  .option('--fail-open', 'let requests through when the filter throws (default: answer 500)')
  .action(async (bundle: string, opts) => {
    process.stdout.write(
      await printConfig(bundle, { filter: opts.filter, config: opts.config, bundlePath: opts.bundlePath, failOpen: !!opts.failOpen }),
    )
  })

program
  .command('setup')
  .description("make Node 18's libnode (Debian 12's libnode108) available to the dev host, in a per-user cache")
  .action(() => setup())

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof NodevoyError) {
    process.stderr.write(`nodevoy: ${error.message}\n`)
  } else {
    process.stderr.write(`nodevoy: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  }
  process.exit(1)
})
