// Response body rewriting: replaces strings in text responses (HTML, JSON, plain text), e.g. to
// rename a product or fix internal host names in links. The response's headers wait until its whole
// body is here (so content-length can follow the new length); compressed bodies, other content types
// and bodies over the size limit pass through untouched.
import { z } from 'zod'
import { defineFilter, type ResponseHeaderMap, type Stream } from 'nodevoy'

const Config = z.object({
  /** Replacements, applied in order to every occurrence. */
  replace: z.array(z.object({ from: z.string().min(1), to: z.string() })).min(1),
  /** Content types (without parameters) that are rewritten. */
  contentTypes: z.array(z.string()).default(['text/html', 'text/plain', 'application/json']),
  /** Larger bodies (by content-length) pass through untouched. */
  maxBytes: z.number().int().positive().default(1024 * 1024),
})

export default defineFilter({
  name: 'response-rewrite',
  config: Config,
  create(config) {
    const types = new Set(config.contentTypes.map((t) => t.toLowerCase()))
    return {
      async onResponseHeaders(headers: ResponseHeaderMap, stream: Stream, endOfStream: boolean) {
        if (endOfStream) return
        const type = (headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
        if (!types.has(type) || headers.has('content-encoding')) return
        if (Number(headers.get('content-length') ?? 0) > config.maxBytes) return
        let text = await stream.response.body.text()
        let changed = false
        for (const { from, to } of config.replace) {
          if (!text.includes(from)) continue
          text = text.replaceAll(from, to)
          changed = true
        }
        if (!changed) return
        stream.response.body.replace(text)  // content-length follows
        headers.set('x-rewritten', 'true')
      },
    }
  },
})
