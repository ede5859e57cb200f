// Every command answers --help.
import { execFile } from 'node:child_process'
import path from 'node:path'
import t from 'tap'
import { repoRoot } from '../harness/paths.js'

const run = (args: string[]) =>
  new Promise<{ code: number; out: string }>((resolve) =>
    execFile(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts/cli.ts'), ...args], { cwd: repoRoot }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    ),
  )

t.test('nodevoy --help and each command --help', async (t) => {
  const top = await run(['--help'])
  t.equal(top.code, 0)
  for (const command of ['init', 'dev', 'build', 'config', 'setup']) {
    t.match(top.out, new RegExp(`^  ${command} `, 'm'), `lists ${command}`)
    const help = await run([command, '--help'])
    t.equal(help.code, 0, `${command} --help exits 0`)
    t.match(help.out, new RegExp(`Usage: nodevoy ${command}`), `${command} --help shows its usage`)
  }
  const unknown = await run(['frobnicate'])
  t.not(unknown.code, 0)
  t.match(unknown.out, /unknown command 'frobnicate'/)
  const badPort = await run(['dev', 'x.ts', '--port', 'high'])
  t.not(badPort.code, 0)
  t.match(badPort.out, /a port number 0\.\.65535/)
})
