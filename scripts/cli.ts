#!/usr/bin/env node
// The nodevoy command line: build, dev, config, setup.
import { Command, InvalidArgumentError } from 'commander'
import { build } from './commands/build.js'
import { printConfig } from './commands/config.js'
import { dev } from './commands/dev.js'
import { setup } from './commands/setup.js'
import { CliError } from './lib/errors.js'
import { packageRoot } from './lib/paths.js'
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

const program = new Command()
  .name('nodevoy')
  .description('TypeScript filters for Envoy, running in-process on embedded Node.js')
  .version(version)
  .showHelpAfterError()

program
  .command('build')
  .description('bundle a filter and write what Envoy needs: bundle.js, libnodevoy.so, envoy.yaml, Dockerfile')
  .argument('<entry>', 'the filter entry file (TypeScript or JavaScript), e.g. filter.ts')
  .option('-o, --out <dir>', 'output directory', 'nodevoy-out')
  .option('-f, --filter <name>', 'which filter of the entry to configure (when it exports several)')
  .option('-c, --config <file.json>', "the filter's config (JSON), checked against its schema and put in envoy.yaml")
  .option('--bundle-path <path>', 'absolute path of bundle.js where Envoy runs', '/etc/nodevoy/bundle.js')
  .option('--fail-open', 'let requests through when the filter throws (default: answer 500)')
  .option('-q, --quiet', 'print nothing on success')
  .action(async (entry: string, opts) => {
    await build(entry, {
      out: opts.out,
      filter: opts.filter,
      config: opts.config,
      bundlePath: opts.bundlePath,
      failOpen: !!opts.failOpen,
      quiet: !!opts.quiet,
    })
  })

program
  .command('dev')
  .description('run a filter locally in the dev host, rebuilding and swapping it in on every change')
  .argument('<entry>', 'the filter entry file, e.g. filter.ts')
  .option('-u, --upstream <host:port>', 'where requests go after the filter (default: a direct 200 response)')
  .option('-p, --port <port>', 'listening port on 127.0.0.1 (0: any free port)', port, 10000)
  .option('-c, --config <file.json>', "the filter's config (JSON); changes are picked up too")
  .option('-f, --filter <name>', 'which filter of the entry to run (when it exports several)')
  .option('--concurrency <n>', 'worker threads (each runs its own Node environment)', positive, 2)
  .action(async (entry: string, opts) => {
    const session = await dev(entry, {
      upstream: opts.upstream,
      port: opts.port,
      config: opts.config,
      filter: opts.filter,
      concurrency: opts.concurrency,
    })
    const stop = () => {
      void session.stop().then(() => process.exit(0))
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })

program
  .command('config')
  .description("print the Envoy http_filters entry for a built bundle, for your own envoy.yaml")
  .argument('<bundle>', 'bundle.js written by `nodevoy build`')
  .option('-f, --filter <name>', 'which filter of the bundle (when it exports several)')
  .option('-c, --config <file.json>', "the filter's config (JSON), checked against its schema")
  .option('--bundle-path <path>', 'absolute path of bundle.js where Envoy runs (default: this file)')
  .option('--fail-open', 'let requests through when the filter throws (default: answer 500)')
  .action(async (bundle: string, opts) => {
    process.stdout.write(
      await printConfig(bundle, { filter: opts.filter, config: opts.config, bundlePath: opts.bundlePath, failOpen: !!opts.failOpen }),
    )
  })

program
  .command('setup')
  .description("install Node 18's libnode (Debian 12), which the dev host needs to run libnodevoy")
  .action(() => setup())

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof CliError) {
    process.stderr.write(`nodevoy: ${error.message}\n`)
  } else {
    process.stderr.write(`nodevoy: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  }
  process.exit(1)
})
