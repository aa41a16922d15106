import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'

/*
 * What the Express and Fastify adapters share: a Node request as a Fetch `Request` (the URL and
 * client address read by the framework, its trust-proxy settings applied), and a Fetch
 * `Response` written back onto a Node response, streamed (the `/session/events` stream) and
 * with every `Set-Cookie` kept.
 */

/** A Node request as the framework reads it: its public URL and, for the routes, its body. */
export interface NodeRequest {
  method: string
  /** Absolute: the framework's protocol and host (X-Forwarded-* only under trust proxy). */
  url: string
  headers: IncomingHttpHeaders
}

/** The Fetch `Headers` of a Node header object, repeated fields kept, HTTP/2 pseudo-headers left out. */
function fetchHeaders(headers: IncomingHttpHeaders): Headers {
  const fetched = new Headers()
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(':')) continue
    for (const one of Array.isArray(value) ? value : [value]) fetched.append(name, one)
  }
  return fetched
}

/**
 * `decide` once per request, however many of an adapter's hooks ask (the middleware,
 * requireSession): the first call's answer is every later call's.
 *
 * @example
 * const decide = oncePerRequest((req: Request) => ward.authenticate(req))
 */
export function oncePerRequest<R extends object, T>(decide: (request: R) => T): (request: R) => T {
  const decided = new WeakMap<R, T>()
  return (request) => {
    if (!decided.has(request)) decided.set(request, decide(request))
    return decided.get(request) as T
  }
}

/**
 * The request without its body: what `ward.authenticate` and `ward.signIn` read (headers, URL,
 * method), so a body the app's parser has read or will read stays the app's.
 */
export function bodilessRequest(request: NodeRequest): Request {
  return new Request(request.url, {
    method: request.method,
    headers: fetchHeaders(request.headers),
  })
}

/**
 * The request with its body for the session routes: the unread Node stream, or, when a body
 * parser of the app already read it, what the parser made of it (a JSON body as JSON again).
 */
export function requestWithBody(
  request: NodeRequest,
  stream: IncomingMessage,
  parsed: unknown,
): Request {
  const headers = fetchHeaders(request.headers)
  const { method } = request
  if (method === 'GET' || method === 'HEAD') return new Request(request.url, { method, headers })
  if (stream.readableEnded || stream.readableDidRead) {
    headers.delete('content-length')
    headers.delete('transfer-encoding')
    const body =
      parsed === undefined || parsed === null
        ? null
        : typeof parsed === 'string'
          ? parsed
          : parsed instanceof Uint8Array
            ? new Uint8Array(parsed)
            : JSON.stringify(parsed)
    return new Request(request.url, { method, headers, body })
  }
  return new Request(request.url, {
    method,
    headers,
    body: Readable.toWeb(stream) as ReadableStream<Uint8Array>,
    duplex: 'half',
  } as RequestInit)
}

/** Adds `Set-Cookie` lines to a Node response, after any the app set already. */
export function appendSetCookies(response: ServerResponse, headers: Headers): void {
  const cookies = headers.getSetCookie()
  if (cookies.length === 0) return
  const already = response.getHeader('set-cookie')
  const earlier = already === undefined ? [] : Array.isArray(already) ? already : [String(already)]
  response.setHeader('set-cookie', [...earlier, ...cookies])
}

/**
 * Writes a Fetch `Response` onto a Node response: status, headers (each `Set-Cookie` line, after
 * the app's), and the body streamed as it comes; a client that goes away cancels the stream.
 */
export function writeResponse(target: ServerResponse, answer: Response): void {
  target.statusCode = answer.status
  for (const [name, value] of answer.headers) {
    if (name !== 'set-cookie') target.setHeader(name, value)
  }
  appendSetCookies(target, answer.headers)
  if (!answer.body) {
    target.end()
    return
  }
  const body = Readable.fromWeb(answer.body as import('node:stream/web').ReadableStream)
  target.once('close', () => body.destroy())
  body.once('error', () => target.destroy())
  // An event stream's headers go at once, not with its first event.
  if (answer.headers.get('content-type')?.startsWith('text/event-stream')) target.flushHeaders()
  body.pipe(target)
}
