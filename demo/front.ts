import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http'

/** The header of every answer through the front: which instance (1, 2, …) served it. */
export const INSTANCE_HEADER = 'x-sessionward-instance'

/** One request the front forwarded, as the console shows it. */
export interface Forwarded {
  /** 1-based, as in the instance header. */
  instance: number
  method: string
  /** The path without its query string. */
  path: string
  /** The instance's status, or 502 when it could not be reached. */
  status: number
  /** An event stream (the answer stays open). */
  stream: boolean
}

export interface FrontOptions {
  /** The instances' origins, e.g. `http://127.0.0.1:3001`; the header numbers them from 1. */
  instances: readonly string[]
  /** Called once per request, when the answer's head is known. */
  onForward?: (forwarded: Forwarded) => void
}

// Per connection, not per message: never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

/**
 * The headers of a message with the hop-by-hop ones removed, including those its
 * `Connection` header names.
 *
 * @example
 * endToEnd({ connection: 'close, x-a', 'x-a': '1', accept: '*' }) // { accept: '*' }
 */
export function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((name) => name.trim().toLowerCase()),
  )
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name) && !named.has(name)),
  )
}

/**
 * `X-Forwarded-For` with the client's socket address appended, as proxies do: the instance
 * trusts only this last entry (the earlier ones are whatever the client sent).
 *
 * @example
 * forwardedFor('203.0.113.7', '127.0.0.1') // '203.0.113.7, 127.0.0.1'
 */
export function forwardedFor(existing: string | string[] | undefined, address: string): string {
  const earlier = [existing ?? []].flat().join(', ')
  return earlier ? `${earlier}, ${address}` : address
}

/** The path of a request target without its query string (which the console does not show). */
function pathOf(target: string | undefined): string {
  return (target ?? '/').split('?')[0] || '/'
}

/**
 * A round-robin HTTP front: each request goes to the next instance, its answer streams back
 * unbuffered (Server-Sent Events flow chunk by chunk), with `X-Sessionward-Instance` added.
 *
 * Built on `node:http` rather than `fetch` (Hono's `proxy`): fetch replaces the `Host` header,
 * and the instances' Origin (CSRF) checks and redirects must see the front's host.
 *
 * @example
 * createFront({ instances: ['http://127.0.0.1:3001', 'http://127.0.0.1:3002'] }).listen(3000)
 */
export function createFront(options: FrontOptions): Server {
  const targets = options.instances.map((origin) => new URL(origin))
  if (targets.length === 0) throw new Error('createFront: instances must name at least one URL')
  // A new loopback connection per request: a reused idle connection that the instance closes
  // at the same moment would fail the request (a 502 a person watching would not understand).
  const agent = new Agent({ keepAlive: false })
  let next = 0

  function forward(incoming: IncomingMessage, outgoing: ServerResponse): void {
    const index = next
    next = (next + 1) % targets.length
    const target = targets[index] as URL
    const instance = index + 1
    const report = (status: number, stream: boolean) =>
      options.onForward?.({
        instance,
        method: incoming.method ?? 'GET',
        path: pathOf(incoming.url),
        status,
        stream,
      })
    const upstream = request({
      agent,
      host: target.hostname,
      port: target.port,
      method: incoming.method,
      path: incoming.url,
      // The Host stays the front's: the instance builds its URLs and Origin checks from it.
      headers: {
        ...endToEnd(incoming.headers),
        'x-forwarded-for': forwardedFor(
          incoming.headers['x-forwarded-for'],
          incoming.socket.remoteAddress ?? '',
        ),
      },
    })
    upstream.on('response', (answer) => {
      const stream = String(answer.headers['content-type']).startsWith('text/event-stream')
      report(answer.statusCode ?? 502, stream)
      outgoing.writeHead(answer.statusCode ?? 502, answer.statusMessage, {
        ...endToEnd(answer.headers),
        [INSTANCE_HEADER]: String(instance),
      })
      // Sends the head now: an event stream's first event may be a while coming.
      outgoing.flushHeaders()
      answer.pipe(outgoing)
    })
    upstream.on('error', () => {
      if (outgoing.headersSent) {
        outgoing.destroy()
        return
      }
      report(502, false)
      outgoing.writeHead(502, {
        'content-type': 'application/json',
        [INSTANCE_HEADER]: String(instance),
      })
      outgoing.end(
        JSON.stringify({ error: 'bad_gateway', message: `instance ${instance} is unreachable` }),
      )
    })
    // The browser went away (a closed tab, an aborted stream): so does the request upstream.
    outgoing.on('close', () => {
      if (!outgoing.writableFinished) upstream.destroy()
    })
    incoming.pipe(upstream)
  }

  const server = createServer(forward)
  server.on('close', () => agent.destroy())
  return server
}
