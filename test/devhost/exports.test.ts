// The dev host exports the ABI callbacks it implements, like Envoy's dynamic symbol list, and the
// ones our header declares are all there.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { devHostBin, repoRoot } from '../harness/paths.js'

t.test('nm -D lists every callback the ABI header declares', async (t) => {
  const nm = execFileSync('nm', ['-D', '--defined-only', devHostBin], { encoding: 'utf8' })
  const exported = new Set(
    nm
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[2])
      .filter((name): name is string => !!name && name.startsWith('envoy_dynamic_module_callback_')),
  )
  const header = fs.readFileSync(path.join(repoRoot, 'host/abi/nodevoy_envoy_abi.h'), 'utf8')
  const declared = new Set([...header.matchAll(/\b(envoy_dynamic_module_callback_\w+)\(/g)].map((m) => m[1]!))
  t.ok(declared.size > 50, `the header declares ${declared.size} callbacks`)
  for (const name of declared) t.ok(exported.has(name), `${name} is exported`)
  for (const name of exported) t.ok(declared.has(name), `${name} is declared in the header`)
  t.notOk(/ T (uv_|napi_|SSL_)/.test(nm), 'no libuv, N-API or OpenSSL symbols are exported')
})
