// Uses Node's fetch and Headers only through names the bundler cannot see, so its bundle says it
// does not use undici and libnodevoy does not load undici when loading it. Paths:
//   /undici-loaded   answers yes/no: whether Node has loaded undici in this environment
//   /fetch           fetch()es `${config.upstream}/from-filter` and answers with the upstream's status
//   /headers         makes a Headers and answers with a value read back from it
//   /fetch-loop      calls the fetch it found when it loaded (before any fetch() call) for 3 s
import { defineFilter } from 'nodevoy'

const hidden = (name: string) => (globalThis as Record<string, unknown>)[['', name].join('')]
const fetchAtLoad = hidden('fetch') as typeof fetch

export default defineFilter({
  name: 'undici-hidden',
  create: (config) => ({
    async onRequestHeaders(headers, stream) {
      if (headers.path === '/undici-loaded') {
        const loaded = (process as unknown as { moduleLoadList: string[] }).moduleLoadList.some((m) => m.includes('undici'))
        return stream.sendLocalReply(200, loaded ? 'yes' : 'no')
      }
      if (headers.path === '/fetch') {
        const fetchOfNode = hidden('fetch') as typeof fetch
        const res = await fetchOfNode(`${(config as { upstream: string }).upstream}/from-filter`)
        await res.arrayBuffer()
        return stream.sendLocalReply(200, `upstream ${res.status}`)
      }
      if (headers.path === '/fetch-loop') {
        const end = Date.now() + 3000
        while (Date.now() < end) fetchAtLoad('data:,').catch(() => undefined)
        return stream.sendLocalReply(200, 'the loop ended')
      }
      if (headers.path === '/headers') {
        const HeadersOfNode = hidden('Headers') as typeof Headers
        return stream.sendLocalReply(200, new HeadersOfNode({ 'x-made': 'here' }).get('x-made') ?? 'none')
      }
    },
  }),
})
