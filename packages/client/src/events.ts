import type { MachineEvent } from './machine.ts'
import type { HeadersOption, ResolvedOptions } from './options.ts'
import { endReason, headersFrom, readPing } from './server.ts'

export interface EventsOptions {
  url: string
  headers: HeadersOption
  fetch: typeof fetch
  /** A `policy` event: the server's thresholds, in milliseconds. */
  onPolicy(warnAfter: number, expireAfter: number): void
  /** An `ended` event, or a 401 `session_ended` at connect. */
  onEnded(reason: string): void
  /** The channel failed, stalled, or closed without `ended`. Not called after `close`. */
  onLost(): void
  /** A `new-device` event's data, unread: its reading loads lazily (new-device.ts). */
  onNewDevice(data: unknown): void
}

/**
 * A proxy that buffers the stream delivers nothing: without the first `policy` event within
 * this long, the channel counts as unavailable (pings carry on).
 */
export const FIRST_EVENT_TIMEOUT = 10_000

/** The server sends a keepalive every ~15 s; this long without a byte means a dead connection. */
export const SILENCE_TIMEOUT = 45_000

/** A line longer than this is not SSE from the ward: the channel is dropped. */
const MAX_LINE = 65_536

/**
 * Reads Server-Sent Events framing from text chunks cut anywhere: lines end in CRLF, LF or CR,
 * `:` lines are comments, `data:` lines of one event are joined with `\n`, an empty line
 * dispatches. `id` and `retry` are ignored (the ward reconnects on its own schedule).
 * @example
 * const feed = sseParser((type, data) => console.log(type, data))
 * feed('event: ended\r\ndata: {"reason"'); feed(':"admin"}\r\n\r\n') // ended {"reason":"admin"}
 */
export function sseParser(onEvent: (type: string, data: string) => void): (chunk: string) => void {
  let buffer = ''
  let type = ''
  let data: string[] = []
  let cr = false
  return (chunk) => {
    // A CRLF cut between two chunks is one line end: the CR ended the line already.
    buffer += cr && chunk[0] === '\n' ? chunk.slice(1) : chunk
    cr = chunk.endsWith('\r')
    const lines = buffer.split(/\r\n|\r|\n/)
    buffer = lines.pop() as string
    if (buffer.length > MAX_LINE) throw new RangeError()
    for (const line of lines) {
      if (line === '') {
        if (data.length > 0) onEvent(type || 'message', data.join('\n'))
        type = ''
        data = []
        continue
      }
      const colon = line.indexOf(':')
      if (colon === 0) continue
      const field = colon < 0 ? line : line.slice(0, colon)
      let value = colon < 0 ? '' : line.slice(colon + 1)
      if (value.startsWith(' ')) value = value.slice(1)
      if (field === 'event') type = value
      else if (field === 'data') data.push(value)
    }
  }
}

/** An event's data (or a refused request's body) as JSON; undefined when it is none. */
function json(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * Opens the events channel with the same credentials as pings (cookies and the `headers`
 * option), through `fetch` with a streamed body: EventSource cannot send an Authorization
 * header. Returns a function that closes it.
 * @example
 * const close = listen({ url: '/session/events', headers: {}, fetch,
 *   onPolicy: console.log, onEnded: console.log, onLost: () => {} })
 */
export function listen(options: EventsOptions): () => void {
  const abort = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  let done = false
  const arm = (ms: number): void => {
    clearTimeout(timer)
    timer = setTimeout(() => abort.abort(), ms)
  }
  const finish = (report?: () => void): void => {
    if (done) return
    done = true
    clearTimeout(timer)
    abort.abort()
    report?.()
  }
  let heard = false
  const feed = sseParser((type, data) => {
    if (done) return
    const body = json(data)
    if (type === 'ended') finish(() => options.onEnded(endReason(body)))
    if (type === 'new-device') options.onNewDevice(body)
    if (type !== 'policy') return
    const answer = readPing(200, body)
    const view = answer.type === 'answer' ? answer.view : {}
    if (view.warnAfter === undefined || view.expireAfter === undefined) return
    heard = true
    options.onPolicy(view.warnAfter, view.expireAfter)
  })
  async function run(): Promise<void> {
    arm(FIRST_EVENT_TIMEOUT)
    const headers = await headersFrom(options.headers)
    headers.set('Accept', 'text/event-stream')
    const response = await options.fetch(options.url, {
      headers,
      credentials: 'same-origin',
      signal: abort.signal,
    })
    if (response.status === 401) {
      const body = json(await response.text())
      // Only the server's word that the session ended ends it. A bare 401 (e.g. a cookie that
      // does not reach a misconfigured eventsUrl) leaves the decision to the pings.
      const outcome = readPing(401, body)
      if (outcome.type === 'ended' && outcome.reason !== 'unauthenticated') {
        return finish(() => options.onEnded(outcome.reason))
      }
    }
    const reader = response.ok ? response.body?.getReader() : undefined
    // Caught below: any failure is "unavailable".
    if (reader === undefined) throw new Error()
    const decoder = new TextDecoder()
    while (!done) {
      const { value, done: closed } = await reader.read()
      if (closed) break
      feed(decoder.decode(value, { stream: true }))
      if (heard) arm(SILENCE_TIMEOUT)
    }
    // Closed by the server or a proxy without `ended`: unavailable, not a logout.
    finish(options.onLost)
  }
  run().catch(() => finish(options.onLost))
  return () => finish()
}

/**
 * The events channel as the ward hears it (ward-network.ts): on the `eventsUrl` with the ward's
 * `headers` and `fetch`, each event told to `deliver` as the machine's event. Here, in the lazy
 * chunk, rather than in the ward: no page pays for it up front.
 * @example
 * const close = listenForWard(options, fetch, apply)
 */
export const listenForWard = (
  options: ResolvedOptions,
  fetcher: typeof fetch,
  deliver: (event: MachineEvent) => void,
): (() => void) =>
  listen({
    ...options,
    url: options.eventsUrl as string,
    fetch: fetcher,
    onPolicy: (warnAfter, expireAfter) =>
      deliver({ type: 'policy', now: Date.now(), warnAfter, expireAfter }),
    onEnded: (reason) => deliver({ type: 'ended', now: Date.now(), reason, pushed: true }),
    onLost: () => deliver({ type: 'lost', now: Date.now() }),
    onNewDevice: (data) => deliver({ type: 'new-device', data }),
  })
