// nodevoy setup: makes Node 18's embedding library (libnode108) available to the dev host, in a
// per-user cache shared by every project (scripts/setup-libnode.sh).
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { toolError } from '../lib/errors.js'
import { packageRoot } from '../lib/paths.js'

export function setup(): void {
  const result = spawnSync('bash', [path.join(packageRoot, 'scripts', 'setup-libnode.sh')], { stdio: ['ignore', 'pipe', 'inherit'] })
  if (result.status !== 0) throw toolError('NODEVOY_ERR_NATIVE_UNAVAILABLE', 'could not make libnode available (see the messages above)')
  process.stderr.write(`libnode is ready in ${result.stdout.toString().trim()}\n`)
}
