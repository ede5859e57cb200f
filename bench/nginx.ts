// The peers of `npm run bench`: NGINX serving the same tiny response, plain and with the same HTTP
// Basic authentication written in njs (ngx_http_js_module) and in Lua (ngx_http_lua_module), so our
// overhead over the dev host with no filter stands next to theirs over plain NGINX.
//
// Every variant serves the same 2-byte static file from the content phase (so Lua's access phase
// runs; a `return` would answer in the rewrite phase, before it). njs has no access-phase handler
// in HTTP: its check is a js_set variable tested by `if` (the njs documentation's pattern).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export type NginxVariant = 'plain' | 'njs' | 'lua'

const MODULES_DIR = '/usr/lib/nginx/modules'
const PACKAGES = ['nginx', 'libnginx-mod-http-js', 'libnginx-mod-http-lua']

/** Why the NGINX peers cannot run, or null once NGINX and both modules are there (installing them with apt as root). */
export function ensureNginx(log: (line: string) => void): string | null {
  const present = () =>
    spawnSync('nginx', ['-v']).status === 0 &&
    fs.existsSync(path.join(MODULES_DIR, 'ngx_http_js_module.so')) &&
    fs.existsSync(path.join(MODULES_DIR, 'ngx_http_lua_module.so'))
  if (present()) return null
  if (process.getuid?.() !== 0) return `NGINX peers skipped: not root, so cannot apt-get install ${PACKAGES.join(' ')}`
  log(`installing the peers with apt: ${PACKAGES.join(' ')}`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  let install = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...PACKAGES], { env, encoding: 'utf8' })
  if (install.status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], { env, encoding: 'utf8' })
    install = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...PACKAGES], { env, encoding: 'utf8' })
  }
  if (install.status !== 0 || !present()) return `NGINX peers skipped: apt-get install ${PACKAGES.join(' ')} failed:\n${install.stderr}`
  return null
}

export function nginxVersion(): string {
  return (spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr ?? '').trim().replace(/^nginx version: /, '')
}

const NJS_AUTH = (username: string, password: string) => `// Basic authentication for NGINX in njs: the same check as examples/basic-auth.
var expected = Buffer.from(${JSON.stringify(`${username}:${password}`)}).toString('base64');

function constantTimeEquals(candidate, wanted) {
  var diff = candidate.length ^ wanted.length;
  for (var i = 0; i < wanted.length; i++) {
    diff |= (i < candidate.length ? candidate.charCodeAt(i) : 0) ^ wanted.charCodeAt(i);
  }
  return diff === 0;
}

function check(r) {
  var authorization = r.headersIn.Authorization;
  if (authorization === undefined) return '0';
  if (authorization.slice(0, 6).toLowerCase() !== 'basic ') return '0';
  return constantTimeEquals(authorization.slice(6).trim(), expected) ? '1' : '0';
}

export default { check };
`

const LUA_AUTH = `
            local authorization = ngx.var.http_authorization
            local ok = false
            if authorization ~= nil and string.lower(string.sub(authorization, 1, 6)) == "basic " then
                local encoded = string.match(string.sub(authorization, 7), "^%s*(.-)%s*$")
                local wanted = basic_auth_expected
                local diff = bit.bxor(#encoded, #wanted)
                for i = 1, #wanted do
                    local c = i <= #encoded and string.byte(encoded, i) or 0
                    diff = bit.bor(diff, bit.bxor(c, string.byte(wanted, i)))
                end
                ok = diff == 0
            end
            if not ok then
                ngx.header["WWW-Authenticate"] = 'Basic realm="nodevoy"'
                ngx.status = 401
                ngx.print("invalid username or password")
                return ngx.exit(401)
            end`

function config(variant: NginxVariant, dir: string, port: number, workers: number, username: string, password: string): string {
  const modules =
    variant === 'njs'
      ? `load_module ${MODULES_DIR}/ngx_http_js_module.so;`
      : variant === 'lua'
        ? `load_module ${MODULES_DIR}/ndk_http_module.so;\nload_module ${MODULES_DIR}/ngx_http_lua_module.so;`
        : ''
  const httpExtra =
    variant === 'njs'
      ? `js_import auth from ${dir}/auth.js;\n    js_set $basic_ok auth.check;`
      : variant === 'lua'
        ? `init_by_lua_block { basic_auth_expected = ngx.encode_base64(${JSON.stringify(`${username}:${password}`)}) }`
        : ''
  const check =
    variant === 'njs'
      ? `if ($basic_ok != '1') {
                add_header WWW-Authenticate 'Basic realm="nodevoy"' always;
                return 401 "invalid username or password";
            }`
      : variant === 'lua'
        ? `access_by_lua_block {${LUA_AUTH}
            }`
        : ''
  return `daemon off;
master_process on;
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
${modules}
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path ${dir}/tmp-body;
    proxy_temp_path ${dir}/tmp-proxy;
    fastcgi_temp_path ${dir}/tmp-fastcgi;
    uwsgi_temp_path ${dir}/tmp-uwsgi;
    scgi_temp_path ${dir}/tmp-scgi;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    open_file_cache max=16 inactive=600s;
    open_file_cache_valid 600s;
    default_type text/plain;
    ${httpExtra}
    server {
        listen 127.0.0.1:${port} reuseport;
        root ${dir}/www;
        location / {
            ${check}
        }
    }
}
`
}

export interface NginxServer {
  variant: NginxVariant
  port: number
  /** The master and its workers. */
  pids(): number[]
  stop(): Promise<void>
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

function childrenOf(pid: number): number[] {
  const out: number[] = []
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === pid) out.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return out
}

/** Starts NGINX (one master, `workers` workers) serving /ok; resolves once it answers. */
export async function startNginx(variant: NginxVariant, workers: number, username: string, password: string): Promise<NginxServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nodevoy-bench-nginx-${variant}-`))
  // NGINX started as root runs its workers as an unprivileged user: they must reach the file.
  fs.chmodSync(dir, 0o755)
  fs.mkdirSync(path.join(dir, 'www'), { mode: 0o755 })
  fs.writeFileSync(path.join(dir, 'www', 'ok'), 'ok', { mode: 0o644 })
  if (variant === 'njs') fs.writeFileSync(path.join(dir, 'auth.js'), NJS_AUTH(username, password), { mode: 0o644 })
  const port = await freePort()
  fs.writeFileSync(path.join(dir, 'nginx.conf'), config(variant, dir, port, workers, username, password))
  let output = ''
  const child: ChildProcess = spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()))
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  let gone = false
  void exited.then(() => (gone = true))
  const deadline = Date.now() + 10_000
  for (;;) {
    if (gone) throw new Error(`nginx (${variant}) exited at start:\n${output}${readLog(dir)}`)
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end()
        resolve(true)
      })
      socket.on('error', () => resolve(false))
    })
    if (ok && childrenOf(child.pid!).length >= workers) break
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`nginx (${variant}) did not start listening:\n${output}${readLog(dir)}`)
    }
    await sleep(50)
  }
  return {
    variant,
    port,
    pids: () => [child.pid!, ...childrenOf(child.pid!)],
    async stop() {
      child.kill('SIGQUIT')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

function readLog(dir: string): string {
  try {
    return fs.readFileSync(path.join(dir, 'error.log'), 'utf8')
  } catch {
    return ''
  }
}
