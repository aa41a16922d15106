import type { AuthenticateOutcome, Refusal } from '../outside-hono.ts'
import type { CreatedSession, SessionInfo } from '../session.ts'
import type { Ward } from '../ward.ts'
import { mountedRoutes } from './routes-at.ts'

/*
 * The Next.js adapter without Next: `createNextWard` takes the request scope (what
 * `next/headers` gives a server component, a server action or a route handler) as an argument,
 * so the table of adapter cases runs it on a plain Node server; `next.ts` binds it to
 * `next/headers`.
 */

/** A cookie to set, as Next's `cookies().set()` takes it. */
export interface CookieToSet {
  name: string
  value: string
  path?: string
  httpOnly?: boolean
  secure?: boolean
  sameSite?: 'lax' | 'strict' | 'none'
  maxAge?: number
}

/** What the adapter reads and writes through `next/headers` outside a handler's `request`. */
export interface RequestScope {
  /** The incoming request's headers. */
  headers(): Promise<Headers>
  /** Sets a cookie on the answer (allowed in server actions and route handlers only). */
  setCookie(cookie: CookieToSet): Promise<void>
}

/** What `nextWard(ward, options)` takes. */
export interface NextWardOptions {
  /** Where `app/…/[...path]/route.ts` serves the session routes (default `/session`). */
  basePath?: string
  /**
   * The client's address, for the per-IP limits and the devices list. Next gives route
   * handlers no socket: the default is the last address of `X-Forwarded-For`, which Next sets
   * to the socket's address when a request comes without one and a proxy in front appends to.
   */
  clientIp?: (headers: Headers) => string | undefined
}

/** What `sw.proxy(options)` takes. */
export interface NextProxyOptions {
  /**
   * Where a page request (a GET that accepts HTML) without a live session is sent, with
   * `?next=` the path it asked for; other requests get the ward's JSON refusal. Without it,
   * every request without a live session gets the JSON refusal.
   */
  redirectTo?: string
}

/** The handlers of `app/session/[...path]/route.ts`: `export const { GET, POST, DELETE } = sw.handlers`. */
export interface NextHandlers {
  GET(request: Request): Promise<Response>
  POST(request: Request): Promise<Response>
  DELETE(request: Request): Promise<Response>
}

/** `nextWard(ward)`. */
export interface NextWard {
  /** The session routes (ping, logout, devices, history, events, token, the script). */
  readonly handlers: NextHandlers
  /**
   * The live session (frozen), or null. Without `request` it reads `next/headers` (a server
   * component, a server action) and the request counts as a GET; a route handler passes its
   * `request`, so a cookie on an unsafe method gets the Origin check.
   */
  getSession(request?: Request): Promise<Readonly<SessionInfo> | null>
  /**
   * Starts a session for `userId` (after the app checked the password) and sets the cookie
   * through `next/headers`: call it in a server action or a route handler, where cookies may
   * be set. Without `request` the sign-in counts as a POST from the headers Next gives; a GET
   * route handler (an OAuth callback) passes its `request`. A refused sign-in (403
   * `origin_rejected`, 403 `session_limit`) resolves to `{ problem, response }`.
   */
  signIn(userId: string, request?: Request): Promise<CreatedSession | Refusal>
  /**
   * For `proxy.ts`: a function that lets a request with a live session through (resolves
   * undefined) and otherwise redirects it (`redirectTo`, pages) or answers the ward's JSON
   * refusal.
   */
  proxy(options?: NextProxyOptions): (request: Request) => Promise<Response | undefined>
}

/** The nearest hop's view of the client: the last address of X-Forwarded-For. */
function lastForwardedFor(headers: Headers): string | undefined {
  const hops = headers.get('x-forwarded-for')?.split(',')
  const last = hops?.at(-1)?.trim()
  return last || undefined
}

/**
 * The URL the browser asked for. Next hands route handlers and the proxy a URL on its own
 * hostname (`http://localhost:3000/…` even when the browser is at `http://127.0.0.1:3000`) and
 * passes the real one in `X-Forwarded-Host` and `X-Forwarded-Proto` (from the Host header and
 * the socket when no proxy set them): the Origin check compares with that one.
 */
function publicUrl(headers: Headers, given: URL): string {
  const host = headers.get('x-forwarded-host') ?? headers.get('host') ?? given.host
  const proto =
    headers.get('x-forwarded-proto')?.split(',')[0]?.trim() ?? given.protocol.slice(0, -1)
  return `${proto}://${host}${given.pathname}${given.search}`
}

/** The request at the URL the browser asked for (see `publicUrl`). */
function asPublic(request: Request): Request {
  const url = publicUrl(request.headers, new URL(request.url))
  if (url === request.url) return request
  const { method, headers, body, signal } = request
  return new Request(url, { method, headers, body, signal, duplex: 'half' } as RequestInit)
}

/** A `Set-Cookie` line as the ward writes it, as `cookies().set()` takes it. */
export function parseSetCookie(line: string): CookieToSet {
  const [pair = '', ...attributes] = line.split(';')
  const equals = pair.indexOf('=')
  const cookie: CookieToSet = {
    name: pair.slice(0, equals).trim(),
    value: decodeURIComponent(pair.slice(equals + 1).trim()),
  }
  for (const attribute of attributes) {
    const [key = '', value = ''] = attribute.split('=').map((part) => part.trim())
    const name = key.toLowerCase()
    if (name === 'path') cookie.path = value
    else if (name === 'httponly') cookie.httpOnly = true
    else if (name === 'secure') cookie.secure = true
    else if (name === 'max-age') cookie.maxAge = Number(value)
    else if (name === 'samesite') cookie.sameSite = value.toLowerCase() as CookieToSet['sameSite']
  }
  return cookie
}

/**
 * The Next.js adapter on a given request scope (`next.ts` passes `next/headers`).
 *
 * @example
 * const sw = createNextWard(ward, {}, scope)
 * const session = await sw.getSession()
 */
export function createNextWard(
  ward: Ward,
  options: NextWardOptions,
  scope: RequestScope,
): NextWard {
  const basePath = (options.basePath ?? '/session').replace(/\/+$/, '')
  const clientIp = options.clientIp ?? lastForwardedFor
  const routes = mountedRoutes(ward)(basePath)

  /** The request Next is answering, from its headers: its public origin, `method`. */
  async function scopedRequest(method: string): Promise<Request> {
    const headers = await scope.headers()
    return new Request(publicUrl(headers, new URL('http://localhost/')), { method, headers })
  }

  const serve = async (request: Request) =>
    routes.fetch(asPublic(request), {
      incoming: { socket: { remoteAddress: clientIp(request.headers) } },
    })

  return {
    handlers: { GET: serve, POST: serve, DELETE: serve },
    getSession: async (request) => {
      const asked = request ? asPublic(request) : await scopedRequest('GET')
      const outcome = await ward.authenticate(asked, { ip: clientIp(asked.headers) })
      return 'session' in outcome ? outcome.session : null
    },
    signIn: async (userId, request) => {
      const asked = request ? asPublic(request) : await scopedRequest('POST')
      const outcome = await ward.signIn(asked, userId, { ip: clientIp(asked.headers) })
      if ('problem' in outcome) return outcome
      for (const line of outcome.headers.getSetCookie()) {
        await scope.setCookie(parseSetCookie(line))
      }
      const { headers: _sent, ...created } = outcome
      return created
    },
    proxy: (proxyOptions = {}) => {
      const { redirectTo } = proxyOptions
      return async (request) => {
        const asked = asPublic(request)
        const outcome: AuthenticateOutcome = await ward.authenticate(asked, {
          ip: clientIp(request.headers),
        })
        if ('session' in outcome) return undefined
        const page =
          request.method === 'GET' && (request.headers.get('accept') ?? '').includes('text/html')
        if (!redirectTo || !page) return outcome.response
        const url = new URL(asked.url)
        const target = new URL(redirectTo, url)
        target.searchParams.set('next', url.pathname + url.search)
        const headers = new Headers({ location: target.toString() })
        // A dead cookie is dropped on the way to the login page too.
        for (const line of outcome.headers.getSetCookie()) headers.append('set-cookie', line)
        return new Response(null, { status: 307, headers })
      }
    },
  }
}
