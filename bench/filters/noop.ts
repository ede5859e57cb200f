// The cheapest possible TS filter: a request-headers hook that lets the request go on.
import { defineFilter } from 'nodevoy'

export default defineFilter({
  name: 'noop',
  create: () => ({
    onRequestHeaders() {},
  }),
})
