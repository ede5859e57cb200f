// The dev host exports the ABI callbacks it implements, like Envoy's dynamic symbol list, and the
// ones our header declares are all there. Each imitated Envoy release has its own executable whose
// export list leaves out the callbacks that release does not have (host/devhost/callback_versions.txt).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { devHostBin, devHostBinFor, repoRoot } from '../harness/paths.js'

function exportedCallbacks(bin: string): { names: Set<string>; nm: string } {
  const nm = execFileSync('nm', ['-D', '--defined-only', bin], { encoding: 'utf8' })
  const names = new Set(
    nm
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[2])
      .filter((name): name is string => !!name && name.startsWith('envoy_dynamic_module_callback_')),
  )
  return { names, nm }
}

t.test('nm -D lists every callback the ABI header declares', async (t) => {
  const { names: exported, nm } = exportedCallbacks(devHostBin)
  const header = fs.readFileSync(path.join(repoRoot, 'host/abi/nodevoy_envoy_abi.h'), 'utf8')
  const declared = new Set([...header.matchAll(/\b(envoy_dynamic_module_callback_\w+)\(/g)].map((m) => m[1]!))
  t.ok(declared.size > 50, `the header declares ${declared.size} callbacks`)
  for (const name of declared) t.ok(exported.has(name), `${name} is exported`)
  for (const name of exported) t.ok(declared.has(name), `${name} is declared in the header`)
  t.notOk(/ T (uv_|napi_|SSL_)/.test(nm), 'no libuv, N-API or OpenSSL symbols are exported')
})

t.test('the v1.39 and v1.38 executables leave out the callbacks those releases lack', async (t) => {
  const newest = exportedCallbacks(devHostBin).names
  const newer: Record<string, string[]> = {
    '1.39': ['log_v2'],
    '1.38': ['log_v2', 'get_log_level', 'http_get_header_values', 'http_filter_config_increment_counter'],
  }
  for (const [version, missing] of Object.entries(newer)) {
    const names = exportedCallbacks(devHostBinFor(version)).names
    const absent = [...newest].filter((n) => !names.has(n)).map((n) => n.replace('envoy_dynamic_module_callback_', ''))
    t.same(absent.sort(), [...missing].sort(), `Envoy ${version}: exactly these callbacks are absent`)
    t.ok([...names].every((n) => newest.has(n)), `Envoy ${version}: nothing the newest release lacks is exported`)
  }
})
