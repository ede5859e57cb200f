// HTTP/1.1 at the byte level, for tests that must see exactly what crossed the wire (header
// injection): an upstream that records each request head's raw bytes, and a client that returns the
// raw response head. Both on 127.0.0.1.
import net from 'node:net'
import type { AddressInfo } from 'node:net'

/** A request or response head as raw header lines (bytes, without CRLF), after the first line. */
export interface RawHead {
  firstLine: string
  lines: Buffer[]
}

function splitHead(head: Buffer): RawHead {
  const lines: Buffer[] = []
  let start = 0
  for (;;) {
    const end = head.indexOf('\r\n', start)
    if (end < 0) {
      if (start < head.length) lines.push(head.subarray(start))
      break
    }
    lines.push(head.subarray(start, end))
    start = end + 2
  }
  const first = lines.shift() ?? Buffer.alloc(0)
  return { firstLine: first.toString('latin1'), lines: lines.filter((l) => l.length > 0) }
}

/** Lines of `head` whose name (before the first ':') is `name`, case-insensitively. */
export function linesNamed(head: RawHead, name: string): Buffer[] {
  const wanted = name.toLowerCase()
  return head.lines.filter((line) => {
    const colon = line.indexOf(':')
    return colon > 0 && line.subarray(0, colon).toString('latin1').toLowerCase() === wanted
  })
}

export interface RawUpstream {
  port: number
  /** Request heads in arrival order. */
  heads: RawHead[]
  close(): Promise<void>
}

/** An upstream answering every request `200 ok` and keeping each request head's bytes. Bodies are
 * not expected (requests are header-only). */
export async function startRawUpstream(): Promise<RawUpstream> {
  const heads: RawHead[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    let pending = Buffer.alloc(0)
    socket.on('data', (data: Buffer) => {
      pending = Buffer.concat([pending, data])
      for (;;) {
        const end = pending.indexOf('\r\n\r\n')
        if (end < 0) break
        heads.push(splitHead(pending.subarray(0, end)))
        pending = pending.subarray(end + 4)
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
      }
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    heads,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

export interface RawResponse {
  status: number
  head: RawHead
  body: Buffer
}

/** One request on a fresh connection (`connection: close`); the response as raw bytes. */
export function rawRequest(port: number, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const lines = [`GET ${path} HTTP/1.1`, 'host: test', 'connection: close']
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`)
  return rawExchange(port, [Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1')], path)
}

/**
 * Writes a request given as raw pieces (each written separately, a few ms apart, so the proxy sees
 * several reads) on a fresh connection, and returns the raw response. The request must ask for
 * `connection: close`.
 */
export function rawExchange(port: number, pieces: Buffer[], label = 'request'): Promise<RawResponse> {
  const path = label
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no response to ${path} within 10 s`)))
    socket.on('data', (d: Buffer) => chunks.push(d))
    socket.on('error', reject)
    socket.on('end', () => {
      const all = Buffer.concat(chunks)
      const end = all.indexOf('\r\n\r\n')
      if (end < 0) return reject(new Error(`incomplete response to ${path}: ${JSON.stringify(all.toString('latin1'))}`))
      const head = splitHead(all.subarray(0, end))
      resolve({ status: Number(head.firstLine.split(' ')[1]), head, body: all.subarray(end + 4) })
      socket.destroy()
    })
    void (async () => {
      for (const piece of pieces) {
        socket.write(piece)
        if (pieces.length > 1) await new Promise((r) => setTimeout(r, 5))
      }
    })()
  })
}
