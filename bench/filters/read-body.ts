// Reads the whole request body (the bench sends 64 KiB) before the request goes on: the cost of the
// whole-body read path, with the headers held until the body is in.
import { defineFilter } from 'nodevoy'

export default defineFilter({
  name: 'read-body',
  create: () => ({
    async onRequestHeaders(_headers, stream) {
      const body = await stream.request.body.bytes()
      if (body.length === 0) stream.sendLocalReply(400, 'empty body')
    },
  }),
})
