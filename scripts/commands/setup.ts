// nodevoy setup: makes Node 18's embedding library (libnode108) available to the dev host.
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { CliError } from '../lib/errors.js'
import { packageRoot } from '../lib/paths.js'

export function setup(): void {
  const result = spawnSync('bash', [path.join(packageRoot, 'scripts', 'setup-libnode.sh')], { stdio: ['ignore', 'pipe', 'inherit'] })
  if (result.status !== 0) throw new CliError('could not make libnode available (see the messages above)')
  process.stderr.write(`libnode is ready in ${result.stdout.toString().trim()}\n`)
}
