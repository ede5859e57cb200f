// One SDK operation per stream, chosen by the config's `op`, for the crossing micro-benchmarks
// (bench/micro.ts subtracts the `noop` run, so each figure is the operation alone).
import { defineFilter, type FilterHooks } from 'nodevoy'

type Op = 'noop' | 'get' | 'get-cached' | 'set' | 'reply' | 'body-noop' | 'body'

const OPS: Record<Op, FilterHooks> = {
  noop: { onRequestHeaders() {} },
  // The first read of a map: the whole map crosses once.
  get: {
    onRequestHeaders(headers) {
      if (headers.get('authorization') === undefined) throw new Error('no authorization header')
    },
  },
  // One first read and ten cached ones.
  'get-cached': {
    onRequestHeaders(headers) {
      let found = 0
      for (let i = 0; i < 11; i++) if (headers.get('authorization') !== undefined) found++
      if (found !== 11) throw new Error('no authorization header')
    },
  },
  set: {
    onRequestHeaders(headers) {
      headers.set('x-bench', '1')
    },
  },
  reply: {
    onRequestHeaders(_headers, stream) {
      stream.sendLocalReply(401, 'no')
    },
  },
  'body-noop': { onRequestHeaders() {}, onRequestBody() {} },
  body: {
    onRequestHeaders() {},
    onRequestBody(chunk) {
      if (chunk.bytes().length === 0) throw new Error('empty body')
    },
  },
}

export default defineFilter({
  name: 'micro',
  create: (config) => {
    const op = (config as { op?: string }).op as Op
    const hooks = OPS[op]
    if (hooks === undefined) throw new Error(`micro: unknown op ${String(op)} (one of ${Object.keys(OPS).join(', ')})`)
    return hooks
  },
})
