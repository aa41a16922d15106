import { AsyncLocalStorage } from 'node:async_hooks'
import { describe, expect, it } from 'vitest'
import {
  runAdapterCases,
  type StartHost,
  serveFetch,
  UNKNOWN_COOKIE_UNGUARDED,
} from '../test-support/adapter-cases.ts'
import { pgliteForEachTest } from '../test-support/db.ts'
import { generateToken } from '../tokens.ts'
import { createWard } from '../ward.ts'
import { type CookieToSet, createNextWard, parseSetCookie, type RequestScope } from './next-ward.ts'

/** What Next keeps per request for `next/headers`: the request, and the cookies set on the answer. */
interface Scope {
  request: Request
  cookies: CookieToSet[]
}

/** A cookie as Next's `cookies().set()` writes it on the answer. */
function setCookieLine(cookie: CookieToSet): string {
  return [
    `${cookie.name}=${cookie.value}`,
    cookie.maxAge !== undefined && `Max-Age=${cookie.maxAge}`,
    cookie.path && `Path=${cookie.path}`,
    cookie.httpOnly && 'HttpOnly',
    cookie.secure && 'Secure',
    cookie.sameSite && `SameSite=${cookie.sameSite[0]?.toUpperCase()}${cookie.sameSite.slice(1)}`,
  ]
    .filter(Boolean)
    .join('; ')
}

/**
 * The request as Next hands it to a route handler or the proxy: on its own hostname
 * (`http://localhost:port`), the browser's host and the socket in `X-Forwarded-*` unless a proxy
 * set them (base-server.js).
 */
function asNextGivesIt(received: Request, env: unknown): Request {
  const { port, pathname, search, host } = new URL(received.url)
  const headers = new Headers(received.headers)
  const socket = (env as { incoming: { socket: { remoteAddress?: string } } }).incoming.socket
  if (!headers.has('x-forwarded-host')) headers.set('x-forwarded-host', host)
  if (!headers.has('x-forwarded-proto')) headers.set('x-forwarded-proto', 'http')
  if (!headers.has('x-forwarded-for')) headers.set('x-forwarded-for', socket.remoteAddress ?? '')
  const { method, body } = received
  return new Request(`http://localhost:${port}${pathname}${search}`, {
    method,
    headers,
    body,
    duplex: 'half',
  } as RequestInit)
}

/**
 * The cases' host app as Next runs an App Router app: `proxy.ts` (sw.proxy) before `/api/*`,
 * route handlers that read the session (`getSession(request)`), a page (`getSession()` from the
 * headers), a login route handler calling `signIn(userId)` with cookies set through the scope,
 * and `app/session/[...path]/route.ts` exporting the handlers.
 */
const nextHost: StartHost = (ward) => {
  const storage = new AsyncLocalStorage<Scope>()
  const current = () => {
    const scope = storage.getStore()
    if (!scope) throw new Error('next/headers outside a request')
    return scope
  }
  const scope: RequestScope = {
    headers: async () => new Headers(current().request.headers),
    setCookie: async (cookie) => {
      current().cookies.push(cookie)
    },
  }
  const sw = createNextWard(ward, {}, scope)
  const guard = sw.proxy()
  const route = async (request: Request): Promise<Response> => {
    const { pathname } = new URL(request.url)
    if (pathname.startsWith('/session/')) {
      const method = request.method as 'GET' | 'POST' | 'DELETE'
      const handler = sw.handlers[method]
      return handler ? handler(request) : new Response(null, { status: 405 })
    }
    if (pathname.startsWith('/api/')) {
      const refused = await guard(request)
      if (refused) return refused
      const session = await sw.getSession(request)
      return Response.json({ userId: session?.userId })
    }
    if (pathname === '/whoami') {
      const session = await sw.getSession()
      return Response.json({ userId: session?.userId ?? null })
    }
    if (pathname === '/login' && request.method === 'POST') {
      const { userId } = JSON.parse(await request.text()) as { userId: string }
      current().cookies.push({ name: 'app', value: '1', path: '/' })
      const outcome = await sw.signIn(userId)
      if ('problem' in outcome) return outcome.response
      const { token, session, evicted } = outcome
      return Response.json({ token, id: session.id, evicted })
    }
    return new Response(null, { status: 404 })
  }
  return serveFetch(async (received, env) => {
    const request = asNextGivesIt(received, env)
    const state: Scope = { request, cookies: [] }
    const answer = await storage.run(state, () => route(request))
    const cookies = state.cookies.map(setCookieLine)
    if (cookies.length === 0) return answer
    const headers = new Headers(answer.headers)
    for (const line of cookies) headers.append('set-cookie', line)
    return new Response(answer.body, { status: answer.status, headers })
  })
}

runAdapterCases('Next.js', nextHost, {
  [UNKNOWN_COOKIE_UNGUARDED]:
    'a server component cannot set cookies; the proxy and the session routes drop it',
})

describe('Next.js specifics', () => {
  const database = pgliteForEachTest()

  it('sw.proxy({ redirectTo }): a page without a session is sent to the login page, an API call gets the JSON 401', async () => {
    const ward = await createWard({ sweepInterval: 0, database: database().orm })
    try {
      const noScope: RequestScope = {
        headers: () => Promise.reject(new Error('the proxy reads its request, not next/headers')),
        setCookie: () => Promise.reject(new Error('the proxy sets no cookie through next/headers')),
      }
      const sw = createNextWard(ward, {}, noScope)
      const guard = sw.proxy({ redirectTo: '/login' })
      const page = await guard(
        new Request('http://app.test/account?tab=2', {
          headers: { accept: 'text/html', cookie: `__Host-sessionward=${generateToken()}` },
        }),
      )
      expect(page?.status).toBe(307)
      expect(page?.headers.get('location')).toBe('http://app.test/login?next=%2Faccount%3Ftab%3D2')
      expect(page?.headers.get('set-cookie')).toMatch(/^__Host-sessionward=;.*Max-Age=0/)
      const api = await guard(new Request('http://app.test/api/me', { headers: { accept: '*/*' } }))
      expect(api?.status).toBe(401)
      expect(await api?.json()).toMatchObject({ error: 'unauthenticated' })
      const { token } = (await ward.signIn(new Request('http://app.test/login'), 'alice')) as {
        token: string
      }
      const signedIn = new Request('http://app.test/account', {
        headers: { accept: 'text/html', authorization: `Bearer ${token}` },
      })
      expect(await guard(signedIn)).toBeUndefined()
    } finally {
      await ward.close()
    }
  })

  it('reads the ward’s Set-Cookie as cookies().set() takes it', () => {
    expect(
      parseSetCookie(
        '__Host-sessionward=swt_a-b_c; Max-Age=43200; Path=/; HttpOnly; Secure; SameSite=Lax',
      ),
    ).toEqual({
      name: '__Host-sessionward',
      value: 'swt_a-b_c',
      maxAge: 43200,
      path: '/',
      httpOnly: true,
      secure: true,
      sameSite: 'lax',
    })
  })
})
