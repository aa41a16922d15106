import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { getRequestListener } from '@hono/node-server'
import { Hono } from 'hono'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { WardEnv } from '../middleware.ts'
import type { WardOptions } from '../options.ts'
import { generateToken } from '../tokens.ts'
import { createWard, type Ward } from '../ward.ts'
import { CHROME_120 } from './app.ts'
import { at } from './clock.ts'
import { pgliteForEachTest } from './db.ts'
import { leakCheckedLogger } from './leaks.ts'
import { EventReader } from './sse.ts'

/*
 * One table of cases for every framework adapter (and the Hono app they must equal): each host
 * app is wired the same way, the cases send real HTTP to it and assert what a client sees.
 *
 * The host app every adapter builds, trusting the proxy at 127.0.0.1 (X-Forwarded-For counts):
 *   POST /login    {userId} → the adapter's signIn, answered {token, id, evicted}; the app sets
 *                  its own `app=1` cookie first; a refused sign-in answers the ward's JSON
 *   GET  /api/me   requireSession → {userId};  GET /api/poll the same, passive by option
 *   GET  /whoami   behind the middleware only → {userId} or {userId: null}
 *   /session/*     the ward's routes
 */

/** A running host app. */
export interface AdapterHost {
  /** `http://127.0.0.1:port` */
  origin: string
  close(): Promise<void>
}

/** Starts the host app on an adapter for a ward. */
export type StartHost = (ward: Ward) => Promise<AdapterHost>

/** Serves a fetch handler on a Node server at 127.0.0.1 (the Hono reference, Next's handlers). */
export async function serveFetch(
  fetchHandler: (request: Request, env: unknown) => Response | Promise<Response>,
): Promise<AdapterHost> {
  const server = createServer(getRequestListener(fetchHandler))
  return listen(server)
}

/** Listens on a free port of 127.0.0.1. */
export async function listen(server: import('node:http').Server): Promise<AdapterHost> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((done) => {
        server.closeAllConnections()
        server.close(() => done())
      }),
  }
}

/** The host app on Hono itself, through @hono/node-server: the behaviour the adapters match. */
export const honoHost: StartHost = (ward) => {
  const app = new Hono<WardEnv>()
  app.use('*', ward.middleware())
  app.post('/login', async (c) => {
    const { userId } = await c.req.json<{ userId: string }>()
    c.header('set-cookie', 'app=1; Path=/', { append: true })
    const created = await ward.createSession(c, userId)
    return c.json({ token: created.token, id: created.session.id, evicted: created.evicted })
  })
  app.use('/api/*', ward.requireSession())
  app.on(['GET', 'POST'], '/api/me', (c) => c.json({ userId: c.var.session?.userId }))
  app.get('/api/poll', (c) => c.json({ userId: c.var.session?.userId }))
  app.get('/whoami', (c) => c.json({ userId: c.var.session?.userId ?? null }))
  app.route('/session', ward.routes())
  return serveFetch((request, env) => {
    // @hono/node-server gives the socket's address; the proxy's header is read as the adapters'
    // trust-proxy settings read it (the reference honours X-Forwarded-For from 127.0.0.1).
    const forwarded = request.headers.get('x-forwarded-for')
    const bindings = env as { incoming: { socket: { remoteAddress?: string } } }
    const ip = forwarded?.split(',')[0]?.trim() ?? bindings.incoming.socket.remoteAddress
    return app.fetch(request, { incoming: { socket: { remoteAddress: ip } } })
  })
}

const COOKIE = '__Host-sessionward'
const EVIL = 'https://evil.example'

/** What the cases send, against one host. */
class Client {
  readonly origin: string

  constructor(origin: string) {
    this.origin = origin
  }

  send(path: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
    return fetch(`${this.origin}${path}`, {
      ...init,
      redirect: 'manual',
      headers: { 'user-agent': CHROME_120, ...init.headers },
    })
  }

  /** Signs in (same origin, JSON) and gives the token and the answer. */
  async login(userId = 'alice', headers: Record<string, string> = {}) {
    const response = await this.send('/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: this.origin, ...headers },
      body: JSON.stringify({ userId }),
    })
    const body = (await response.clone().json()) as { token: string; id: string }
    return { response, token: body.token, id: body.id }
  }

  bearer(token: string) {
    return { authorization: `Bearer ${token}` }
  }

  cookie(token: string) {
    return { cookie: `${COOKIE}=${token}` }
  }
}

async function expectJson(
  response: Response,
  status: number,
  body: Record<string, unknown>,
): Promise<void> {
  expect(response.status).toBe(status)
  expect(response.headers.get('content-type')).toMatch(/^application\/json/)
  expect(response.headers.get('cache-control')).toBe('no-store')
  expect(await response.json()).toMatchObject(body)
}

interface AdapterCase {
  name: string
  options?: WardOptions
  /** Runs on the fake clock (Date only), from START. */
  clock?: boolean
  run(client: Client): Promise<void>
}

// What a cross-site page can make a victim's browser send to the login route (login-csrf.test).
const FORGED_LOGINS: [string, Record<string, string>][] = [
  ['a cross-site Origin', { origin: EVIL, 'sec-fetch-site': 'cross-site' }],
  ['a sibling origin', { origin: 'http://other.localhost' }],
  ['Origin: null (a sandboxed frame)', { origin: 'null' }],
  ['no Origin but Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
  ['no Origin but Sec-Fetch-Site: same-site', { 'sec-fetch-site': 'same-site' }],
]
const FAIR_LOGINS: [string, Record<string, string>][] = [
  ['no Origin, Sec-Fetch-Site: same-origin', { 'sec-fetch-site': 'same-origin' }],
  ['Origin: null from a same-origin form', { origin: 'null', 'sec-fetch-site': 'same-origin' }],
  ['no Origin and no fetch metadata (not a browser)', {}],
]

/** Sign-in as a forged cross-site form would post it: text/plain, no same-origin Origin. */
function forgedLogin(client: Client, headers: Record<string, string>) {
  return client.send('/login', {
    method: 'POST',
    headers: { 'content-type': 'text/plain', ...headers },
    body: JSON.stringify({ userId: 'mallory' }),
  })
}

/** The one case a host cannot answer where its framework cannot set cookies (Next's pages). */
export const UNKNOWN_COOKIE_UNGUARDED =
  'an unknown cookie is dropped (Max-Age=0) behind the middleware only, the request goes on'

export const ADAPTER_CASES: AdapterCase[] = [
  {
    name: 'sign-in: the token, the session cookie after the app’s own, a guarded route 200',
    async run(client) {
      const { response, token } = await client.login()
      expect(response.status).toBe(200)
      expect(token).toMatch(/^swt_/)
      const cookies = response.headers.getSetCookie()
      expect(cookies[0]).toBe('app=1; Path=/')
      expect(cookies[1]).toMatch(
        new RegExp(`^${COOKIE}=${token}; .*HttpOnly`.replace(/[$]/g, '\\$')),
      )
      const me = await client.send('/api/me', { headers: client.bearer(token) })
      expect(me.status).toBe(200)
      expect(await me.json()).toEqual({ userId: 'alice' })
      const viaCookie = await client.send('/api/me', { headers: client.cookie(token) })
      expect(await viaCookie.json()).toEqual({ userId: 'alice' })
      const who = await client.send('/whoami', { headers: client.bearer(token) })
      expect(await who.json()).toEqual({ userId: 'alice' })
    },
  },
  {
    name: 'no token: 401 unauthenticated with WWW-Authenticate; behind the middleware only, no session',
    async run(client) {
      const me = await client.send('/api/me')
      expect(me.headers.get('www-authenticate')).toMatch(/^Bearer/)
      await expectJson(me, 401, { error: 'unauthenticated' })
      const who = await client.send('/whoami')
      expect(who.status).toBe(200)
      expect(await who.json()).toEqual({ userId: null })
    },
  },
  {
    name: 'a malformed Authorization header and an unknown token: 401 unauthenticated',
    async run(client) {
      const malformed = await client.send('/api/me', { headers: { authorization: 'Basic x' } })
      expect(malformed.headers.get('www-authenticate')).toMatch(/^Bearer/)
      await expectJson(malformed, 401, { error: 'unauthenticated' })
      const unknown = await client.send('/api/me', { headers: client.bearer(generateToken()) })
      expect(unknown.headers.get('www-authenticate')).toContain('error="invalid_token"')
      await expectJson(unknown, 401, { error: 'unauthenticated' })
    },
  },
  {
    name: 'an unknown cookie is dropped (Max-Age=0) on a guarded route',
    async run(client) {
      const me = await client.send('/api/me', { headers: client.cookie(generateToken()) })
      expect(me.headers.get('set-cookie')).toMatch(new RegExp(`^${COOKIE}=;.*Max-Age=0`))
      await expectJson(me, 401, { error: 'unauthenticated' })
    },
  },
  {
    name: UNKNOWN_COOKIE_UNGUARDED,
    async run(client) {
      const who = await client.send('/whoami', { headers: client.cookie(generateToken()) })
      expect(who.status).toBe(200)
      expect(await who.json()).toEqual({ userId: null })
      expect(who.headers.get('set-cookie')).toMatch(new RegExp(`^${COOKIE}=;.*Max-Age=0`))
    },
  },
  {
    name: 'logout: 204, the cookie cleared with Clear-Site-Data; then 401 session_ended (logout)',
    async run(client) {
      const { token } = await client.login()
      const logout = await client.send('/session/logout', {
        method: 'POST',
        headers: { ...client.cookie(token), origin: client.origin },
      })
      expect(logout.status).toBe(204)
      expect(logout.headers.get('set-cookie')).toMatch(new RegExp(`^${COOKIE}=;.*Max-Age=0`))
      expect(logout.headers.get('clear-site-data')).toBe('"cookies"')
      const after = await client.send('/api/me', { headers: client.cookie(token) })
      await expectJson(after, 401, { error: 'session_ended', reason: 'logout' })
      // Logging out of an ended session again is not an error.
      const again = await client.send('/session/logout', {
        method: 'POST',
        headers: { ...client.cookie(token), origin: client.origin },
      })
      expect(again.status).toBe(204)
    },
  },
  {
    name: 'CSRF: a cookie on an unsafe cross-origin request is refused 403 origin_rejected; safe and same-origin pass',
    async run(client) {
      const { token } = await client.login()
      const cookie = client.cookie(token)
      const forged = await client.send('/api/me', {
        method: 'POST',
        headers: { ...cookie, origin: EVIL },
      })
      await expectJson(forged, 403, { error: 'origin_rejected' })
      const forgedPing = await client.send('/session/ping', {
        method: 'POST',
        headers: { ...cookie, origin: EVIL, 'content-type': 'application/json' },
        body: '{"idleFor":0}',
      })
      await expectJson(forgedPing, 403, { error: 'origin_rejected' })
      const forgedLogout = await client.send('/session/logout', {
        method: 'POST',
        headers: { ...cookie, origin: EVIL },
      })
      await expectJson(forgedLogout, 403, { error: 'origin_rejected' })
      const read = await client.send('/api/me', { headers: { ...cookie, origin: EVIL } })
      expect(read.status).toBe(200)
      const ping = await client.send('/session/ping', {
        method: 'POST',
        headers: { ...cookie, origin: client.origin, 'content-type': 'application/json' },
        body: '{"idleFor":0}',
      })
      expect(ping.status).toBe(200)
      // A Bearer token needs no Origin check.
      const bearer = await client.send('/api/me', {
        method: 'POST',
        headers: { ...client.bearer(token), origin: EVIL },
      })
      expect(bearer.status).toBe(200)
    },
  },
  ...FORGED_LOGINS.map(
    ([name, headers]): AdapterCase => ({
      name: `login CSRF, ${name}: 403 origin_rejected, no session cookie`,
      async run(client) {
        const response = await forgedLogin(client, headers)
        await expectJson(response, 403, { error: 'origin_rejected' })
        expect(response.headers.getSetCookie().filter((c) => c.startsWith(COOKIE))).toEqual([])
      },
    }),
  ),
  ...[...FAIR_LOGINS, ['the app’s own Origin', { origin: 'SELF' }] as const].map(
    ([name, headers]): AdapterCase => ({
      name: `login, ${name}: 200 with the cookie`,
      async run(client) {
        const own = headers.origin === 'SELF' ? { origin: client.origin } : headers
        const response = await forgedLogin(client, own)
        expect(response.status).toBe(200)
        expect(response.headers.getSetCookie().some((c) => c.startsWith(`${COOKIE}=swt_`))).toBe(
          true,
        )
      },
    }),
  ),
  {
    name: 'login with cookies off: any origin may sign in, nothing is set',
    options: { cookie: false },
    async run(client) {
      const response = await forgedLogin(client, { origin: EVIL })
      expect(response.status).toBe(200)
      expect(response.headers.getSetCookie()).toEqual(['app=1; Path=/'])
    },
  },
  {
    name: 'a trusted origin may sign in',
    options: { trustedOrigins: ['https://app.example'] },
    async run(client) {
      const response = await forgedLogin(client, { origin: 'https://app.example' })
      expect(response.status).toBe(200)
    },
  },
  {
    name: 'session limit with onLimit deny: 403 session_limit, no cookie',
    options: { maxSessions: 1, onLimit: 'deny' },
    async run(client) {
      expect((await client.login()).response.status).toBe(200)
      const second = await client.send('/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: client.origin },
        body: JSON.stringify({ userId: 'alice' }),
      })
      await expectJson(second, 403, { error: 'session_limit' })
      expect(second.headers.getSetCookie().filter((c) => c.startsWith(COOKIE))).toEqual([])
    },
  },
  {
    name: 'evict-oldest: the new sign-in names the evicted session, whose token answers session_ended',
    options: { maxSessions: 1 },
    async run(client) {
      const first = await client.login()
      const second = await client.login()
      expect(await second.response.json()).toMatchObject({ evicted: [first.id] })
      const old = await client.send('/api/me', { headers: client.bearer(first.token) })
      await expectJson(old, 401, { error: 'session_ended', reason: 'evicted' })
    },
  },
  {
    name: 'a ping is not activity behind the app’s middleware; a guarded request is',
    clock: true,
    async run(client) {
      const { token } = await client.login()
      const ping = async (idleFor: number) => {
        const answer = await client.send('/session/ping', {
          method: 'POST',
          headers: { ...client.bearer(token), 'content-type': 'application/json' },
          body: JSON.stringify({ idleFor }),
        })
        return ((await answer.json()) as { idleFor: number }).idleFor
      }
      at(100)
      expect(await ping(100)).toBe(100)
      at(200)
      expect(await ping(200)).toBe(200)
      expect((await client.send('/api/poll', { headers: client.bearer(token) })).status).toBe(200)
      expect(await ping(200)).toBe(200)
      expect((await client.send('/api/me', { headers: client.bearer(token) })).status).toBe(200)
      at(210)
      expect(await ping(210)).toBe(10)
    },
  },
  {
    name: 'ping: the thresholds; bad bodies 400 invalid_request, JSON parsed by nobody but the ward',
    async run(client) {
      const { token } = await client.login()
      const ping = (body: string, type = 'application/json') =>
        client.send('/session/ping', {
          method: 'POST',
          headers: { ...client.bearer(token), 'content-type': type },
          body,
        })
      const fine = await ping('{"idleFor":0}')
      expect(fine.status).toBe(200)
      expect(fine.headers.get('cache-control')).toBe('no-store')
      expect(await fine.json()).toMatchObject({ idleFor: 0, warnAfter: 840, expireAfter: 900 })
      for (const bad of ['not json', '{"idleFor":-1}', '{"idleFor":"a"}', '[]']) {
        await expectJson(await ping(bad), 400, { error: 'invalid_request' })
      }
      await expectJson(await ping('{"idleFor":0}', 'text/plain'), 200, { idleFor: 0 })
      const big = await ping(JSON.stringify({ idleFor: 0, pad: 'x'.repeat(2000) }))
      await expectJson(big, 400, { error: 'invalid_request' })
    },
  },
  {
    name: 'the routes: unknown path 404 not_found, wrong method 405 with Allow, the script public',
    async run(client) {
      const { token } = await client.login()
      const missing = await client.send('/session/nope', { headers: client.bearer(token) })
      await expectJson(missing, 404, { error: 'not_found' })
      const wrong = await client.send('/session/ping', { headers: client.bearer(token) })
      expect(wrong.headers.get('allow')).toContain('POST')
      await expectJson(wrong, 405, { error: 'method_not_allowed' })
      const script = await client.send('/session/sessionward.js')
      expect(script.status).toBe(200)
      expect(script.headers.get('content-type')).toMatch(/javascript/)
      expect((await script.text()).length).toBeGreaterThan(1000)
    },
  },
  {
    name: 'devices and revoke: the list, a revoked session answers session_ended (revoked)',
    async run(client) {
      const kept = await client.login()
      const other = await client.login()
      const list = await client.send('/session/sessions', { headers: client.bearer(kept.token) })
      expect(list.status).toBe(200)
      const { sessions } = (await list.json()) as { sessions: { id: string }[] }
      expect(sessions.map((s) => s.id).sort()).toEqual([kept.id, other.id].sort())
      const revoke = await client.send(`/session/sessions/${other.id}`, {
        method: 'DELETE',
        headers: client.bearer(kept.token),
      })
      expect(revoke.status).toBe(204)
      const gone = await client.send('/api/me', { headers: client.bearer(other.token) })
      await expectJson(gone, 401, { error: 'session_ended', reason: 'revoked' })
      const bad = await client.send('/session/sessions?limit=0', {
        headers: client.bearer(kept.token),
      })
      await expectJson(bad, 400, { error: 'invalid_request' })
    },
  },
  {
    name: 'events: streamed at once (the thresholds), `ended` with the reason when the session ends',
    async run(client) {
      const { token } = await client.login()
      const stream = await client.send('/session/events', { headers: client.bearer(token) })
      expect(stream.status).toBe(200)
      expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/)
      const events = new EventReader(stream)
      try {
        expect(await events.next()).toEqual({
          event: 'policy',
          data: JSON.stringify({ warnAfter: 840, expireAfter: 900 }),
        })
        const logout = await client.send('/session/logout', {
          method: 'POST',
          headers: client.bearer(token),
        })
        expect(logout.status).toBe(204)
        expect(await events.next()).toEqual({ event: 'ended', data: '{"reason":"logout"}' })
        expect(await events.next()).toBeNull()
      } finally {
        await events.cancel()
      }
      const refused = await client.send('/session/events')
      await expectJson(refused, 401, { error: 'unauthenticated' })
    },
  },
  {
    name: 'token guesses per client IP, read the framework’s way (trust proxy): 429 with Retry-After',
    options: { throttle: { tokenGuesses: { points: 3, duration: 60 } } },
    async run(client) {
      const guess = (ip: string) =>
        client.send('/api/me', {
          headers: { ...client.bearer(generateToken()), 'x-forwarded-for': ip },
        })
      for (let i = 0; i < 3; i++) expect((await guess('203.0.113.1')).status).toBe(401)
      const blocked = await guess('203.0.113.1')
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0)
      await expectJson(blocked, 429, { error: 'too_many_requests' })
      expect((await guess('198.51.100.9')).status).toBe(401)
    },
  },
  {
    name: 'the sign-in records the client IP the framework reads (X-Forwarded-For behind the trusted proxy)',
    async run(client) {
      const { token } = await client.login('alice', { 'x-forwarded-for': '203.0.113.50' })
      const list = await client.send('/session/sessions', { headers: client.bearer(token) })
      const { sessions } = (await list.json()) as { sessions: { ip: string }[] }
      expect(sessions[0]?.ip).toBe('203.0.113.50')
    },
  },
]

/**
 * Runs every case against a host app built by `start`, each on a fresh ward and an empty
 * PGlite database.
 *
 * @example
 * runAdapterCases('Express', startExpressHost)
 */
export function runAdapterCases(
  framework: string,
  start: StartHost,
  without: Record<string, string> = {},
): void {
  const cases = ADAPTER_CASES.filter((one) => !(one.name in without))
  const left = Object.entries(without).map(([name, why]) => `; not "${name}": ${why}`)
  describe(`${framework}: the cases every adapter answers as the Hono app does${left.join('')}`, () => {
    const database = pgliteForEachTest()
    const cleanup: (() => Promise<void>)[] = []
    afterEach(async () => {
      for (const step of cleanup.splice(0).reverse()) await step()
    })
    afterEach(() => {
      vi.useRealTimers()
    })
    it.each(cases)('$name', async ({ options, clock, run }) => {
      if (clock) {
        vi.useFakeTimers({ toFake: ['Date'] })
        at(0)
      }
      const ward = await createWard({
        passive: ['/api/poll'],
        sweepInterval: 0,
        ...options,
        logger: leakCheckedLogger(console),
        database: database().orm,
      })
      cleanup.push(() => ward.close())
      const host = await start(ward)
      cleanup.push(() => host.close())
      await run(new Client(host.origin))
    })
  })
}
