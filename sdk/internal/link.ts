// A stream's token and its liveness check: a read of the liveness table libnodevoy shares with JS,
// so a gone stream is detected without a native crossing.
import { StreamGoneError } from '../errors.js'
import type { StreamToken } from './binding.js'
import { SLOTS } from './contract.js'

export class StreamLink {
  readonly token: StreamToken
  readonly #slot: number
  readonly generation: number
  readonly #liveness: Uint32Array

  constructor(token: StreamToken, liveness: Uint32Array) {
    this.token = token
    this.#slot = token % SLOTS
    this.generation = Math.floor(token / SLOTS)
    this.#liveness = liveness
  }

  get alive(): boolean {
    return this.#liveness[this.#slot] === this.generation
  }

  /** Throws StreamGoneError once the stream has ended. */
  check(): void {
    if (this.#liveness[this.#slot] !== this.generation) throw new StreamGoneError()
  }
}
