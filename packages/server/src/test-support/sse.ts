/** One Server-Sent Event as a browser would dispatch it. */
export interface ServerEvent {
  event: string
  data: string
}

/** Reads the events of an SSE answer one at a time (comments are skipped). */
export class EventReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>
  readonly #decoder = new TextDecoder()
  #buffer = ''

  constructor(response: Response) {
    if (!response.body) throw new Error('the answer has no body')
    this.#reader = response.body.getReader()
  }

  /** The next event, or null when the stream ended without one. */
  async next(): Promise<ServerEvent | null> {
    for (;;) {
      const boundary = this.#buffer.search(/\r?\n\r?\n/)
      if (boundary >= 0) {
        const block = this.#buffer.slice(0, boundary)
        this.#buffer = this.#buffer.slice(boundary).replace(/^\r?\n\r?\n/, '')
        const parsed = parseBlock(block)
        if (parsed) return parsed
        continue
      }
      const { done, value } = await this.#reader.read()
      if (done) return null
      this.#buffer += this.#decoder.decode(value, { stream: true })
    }
  }

  /** Stops reading (the server sees the connection close). */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => undefined)
  }
}

function parseBlock(block: string): ServerEvent | null {
  let event = 'message'
  const data: string[] = []
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
    if (field === 'event') event = value
    if (field === 'data') data.push(value)
  }
  return data.length > 0 ? { event, data: data.join('\n') } : null
}
