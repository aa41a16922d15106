/**
 * An in-test stand-in for @sessionward/server's /session routes, as a `fetch`: it keeps last
 * activity, reconciles it with the client's idleFor (relative seconds, the smaller wins), ends
 * the session once idle passes expireAfter, and answers errors as JSON, like the real one.
 */
export interface FakeServer {
  fetch: typeof fetch
  /** The idleFor of every ping received, in order. */
  pings: number[]
  /** Every request: method, url, headers, credentials. */
  requests: Array<{ url: string; init: RequestInit }>
  logouts: number
  /**
   * How the next logout requests fail before one is served by the contract: a status (503
   * during an outage) or `network` (a dropped connection); consumed in order.
   */
  logoutFailures: Array<number | 'network'>
  warnAfter: number
  expireAfter: number
  /** Seconds until the absolute end, from the first ping on. */
  maxAge: number
  /** Set to end the session with this reason (revoked, admin, …). */
  ended: string | null
  /** true: every request fails like a dropped connection. */
  down: boolean
  /** Answers every ping with exactly this, instead of the contract. */
  reply: { status: number; body: string } | null
  /** Another device (or a request in this one) was active just now. */
  touch(): void
  /** Requests to /session/events, in order. */
  connects: number
  /** Streams of /session/events still open. */
  streams: number
  /**
   * How /session/events answers instead of the contract: a status and body, `buffer` (a proxy
   * that holds the stream back: 200, nothing ever arrives), or `close` (200, a policy event,
   * then the stream ends without `ended`).
   */
  events: { status: number; body: string } | 'buffer' | 'close' | null
  /** Ends the session here, as an admin or another instance would: `ended` on every stream. */
  end(reason: string): void
  /** Sends raw text on every open stream. */
  push(text: string): void
}

export function fakeServer(timing: { warnAfter: number; expireAfter: number }): FakeServer {
  let lastActivity = Date.now()
  let startedAt = Date.now()
  const open = new Set<ReadableStreamDefaultController<Uint8Array>>()
  const bytes = new TextEncoder()
  const send = (text: string): void => {
    for (const stream of open) stream.enqueue(bytes.encode(text))
  }
  const policy = (): string =>
    `event: policy\ndata: ${JSON.stringify({ warnAfter: server.warnAfter, expireAfter: server.expireAfter })}\n\n`
  /** GET /session/events, as the ward answers it (unless `events` says otherwise). */
  function events(init: RequestInit): Response {
    server.connects++
    const override = server.events
    if (typeof override === 'object' && override !== null) {
      return new Response(override.body, { status: override.status })
    }
    if (server.ended !== null) {
      return json(401, { error: 'session_ended', message: 'Session ended', reason: server.ended })
    }
    let controller: ReadableStreamDefaultController<Uint8Array>
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c
        if (override === 'buffer') return
        open.add(c)
        c.enqueue(bytes.encode(policy()))
        if (override === 'close') {
          open.delete(c)
          c.close()
        }
      },
      cancel() {
        open.delete(controller)
      },
    })
    // Like a real fetch: aborting the request errors its body.
    init.signal?.addEventListener('abort', () => {
      if (open.delete(controller) || override === 'buffer') controller.error(init.signal?.reason)
    })
    return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } })
  }
  const json = (status: number, body: unknown): Response =>
    new Response(JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json' },
    })
  const server: FakeServer = {
    pings: [],
    requests: [],
    logouts: 0,
    logoutFailures: [],
    warnAfter: timing.warnAfter,
    expireAfter: timing.expireAfter,
    maxAge: 12 * 3600,
    ended: null,
    down: false,
    reply: null,
    touch() {
      lastActivity = Date.now()
    },
    connects: 0,
    get streams() {
      return open.size
    },
    events: null,
    end(reason) {
      server.ended = reason
      send(`event: ended\ndata: ${JSON.stringify({ reason })}\n\n`)
      for (const stream of open) stream.close()
      open.clear()
    },
    push: send,
    async fetch(input, init = {}) {
      const url = String(input)
      server.requests.push({ url, init })
      if (server.down) throw new TypeError('Failed to fetch')
      if (url.endsWith('/logout')) {
        server.logouts++
        const failure = server.logoutFailures.shift()
        if (failure === 'network') throw new TypeError('Failed to fetch')
        if (failure !== undefined) {
          return json(failure, { error: 'store_unavailable', message: 'Session store unavailable' })
        }
        server.ended ??= 'logout'
        return new Response(null, { status: 204 })
      }
      if (url.endsWith('/events')) return events(init)
      const { idleFor } = JSON.parse(String(init.body)) as { idleFor: number }
      if (server.pings.length === 0) startedAt = Date.now()
      server.pings.push(idleFor)
      if (server.reply !== null) {
        return new Response(server.reply.body, { status: server.reply.status })
      }
      const now = Date.now()
      if (server.ended === null && (now - startedAt) / 1000 >= server.maxAge) {
        server.ended = 'absolute'
      }
      if (server.ended === null && (now - lastActivity) / 1000 >= server.expireAfter) {
        server.ended = 'idle'
      }
      if (server.ended !== null) {
        return json(401, { error: 'session_ended', message: 'Session ended', reason: server.ended })
      }
      const idle = Math.min((now - lastActivity) / 1000, idleFor)
      lastActivity = now - idle * 1000
      return json(200, {
        idleFor: idle,
        warnAfter: server.warnAfter,
        expireAfter: server.expireAfter,
        expiresIn: server.maxAge - (now - startedAt) / 1000,
      })
    },
  }
  return server
}
