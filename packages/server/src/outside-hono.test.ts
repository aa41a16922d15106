import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { getRequestListener } from '@hono/node-server'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { WardOptions } from './options.ts'
import type { AuthenticateOutcome } from './outside-hono.ts'
import { CHROME_120, testApp } from './test-support/app.ts'
import { at, useFakeClock } from './test-support/clock.ts'
import { activityWrites, onEachDatabase, type TestDatabase } from './test-support/db.ts'
import { generateToken } from './tokens.ts'
import { createWard, type Ward } from './ward.ts'

const COOKIE = 'sw'

/**
 * A plain Node `http` server with no Hono app of its own (`getRequestListener` only turns the
 * IncomingMessage into a Request): `POST /login` calls `ward.signIn`, `/api/*` calls
 * `ward.authenticate` (`/api/poll` passive), everything else is `ward.routes().fetch`.
 */
async function plainServer(ward: Ward) {
  const outcomes: AuthenticateOutcome[] = []
  const routes = ward.routes()
  const listener = getRequestListener(async (request, env) => {
    const ip = env.incoming.socket.remoteAddress
    const { pathname } = new URL(request.url)
    if (pathname === '/login' && request.method === 'POST') {
      const { userId } = (await request.json()) as { userId: string }
      const outcome = await ward.signIn(request, userId, { ip })
      if ('problem' in outcome) return outcome.response
      return Response.json({ token: outcome.token, id: outcome.session.id }, outcome)
    }
    if (pathname.startsWith('/api/')) {
      const outcome = await ward.authenticate(request, { ip, passive: pathname === '/api/poll' })
      outcomes.push(outcome)
      if ('problem' in outcome) return outcome.response
      return Response.json({ userId: outcome.session.userId }, outcome)
    }
    return routes.fetch(request, env)
  })
  const server: Server = createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const send = (path: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
    fetch(`${origin}${path}`, { ...init, headers: { 'user-agent': CHROME_120, ...init.headers } })
  return { origin, send, outcomes, close: () => new Promise((done) => server.close(done)) }
}

onEachDatabase((open) => {
  let db: TestDatabase
  const wards: Ward[] = []
  beforeEach(async () => {
    db = await open()
  })
  afterEach(async () => {
    for (const ward of wards.splice(0)) await ward.close()
  })

  async function ward(options: WardOptions = {}) {
    const created = await createWard({ sweepInterval: 0, ...options, database: db.orm })
    wards.push(created)
    return created
  }

  describe('outside Hono: ward.signIn, ward.authenticate and ward.routes().fetch in a plain Node server', () => {
    it('signs in, authenticates, serves ping and logout, then answers session_ended (logout)', async () => {
      const server = await plainServer(await ward())
      try {
        const login = await server.send('/login', {
          method: 'POST',
          body: JSON.stringify({ userId: 'alice' }),
        })
        expect(login.status).toBe(200)
        const { token, id } = (await login.json()) as { token: string; id: string }
        const bearer = { authorization: `Bearer ${token}` }

        const me = await server.send('/api/me', { headers: bearer })
        expect(me.status).toBe(200)
        expect(await me.json()).toEqual({ userId: 'alice' })
        const [live] = server.outcomes
        expect(live && 'session' in live && live.session).toMatchObject({ id, userId: 'alice' })
        expect(live && 'session' in live && Object.isFrozen(live.session)).toBe(true)

        const ping = await server.send('/ping', {
          method: 'POST',
          headers: bearer,
          body: '{"idleFor":0}',
        })
        expect(ping.status).toBe(200)
        expect(await ping.json()).toMatchObject({ idleFor: 0, expireAfter: 900 })
        const logout = await server.send('/logout', { method: 'POST', headers: bearer })
        expect(logout.status).toBe(204)

        const after = await server.send('/api/me', { headers: bearer })
        expect(after.status).toBe(401)
        expect(after.headers.get('www-authenticate')).toContain('error="invalid_token"')
        expect(after.headers.get('cache-control')).toBe('no-store')
        expect(await after.json()).toMatchObject({ error: 'session_ended', reason: 'logout' })
        const ended = server.outcomes.at(-1)
        expect(ended && 'problem' in ended && ended.problem).toEqual({
          status: 401,
          error: 'session_ended',
          message: 'the session has ended (logout)',
          reason: 'logout',
        })
      } finally {
        await server.close()
      }
    })

    it('with the cookie: Set-Cookie from signIn, the Origin check on unsafe methods, a dead cookie dropped', async () => {
      const server = await plainServer(await ward({ cookie: { name: COOKIE, secure: false } }))
      try {
        const login = await server.send('/login', {
          method: 'POST',
          headers: { origin: server.origin },
          body: JSON.stringify({ userId: 'alice' }),
        })
        expect(login.status).toBe(200)
        const { token } = (await login.json()) as { token: string }
        expect(login.headers.get('set-cookie')).toContain(`${COOKIE}=${token}`)
        expect(login.headers.get('set-cookie')).toContain('HttpOnly')
        const cookie = { cookie: `${COOKIE}=${token}` }

        expect((await server.send('/api/me', { headers: cookie })).status).toBe(200)
        const sameOrigin = { ...cookie, origin: server.origin }
        expect((await server.send('/api/me', { method: 'POST', headers: sameOrigin })).status).toBe(
          200,
        )
        const crossSite = { ...cookie, origin: 'https://evil.example' }
        const forged = await server.send('/api/me', { method: 'POST', headers: crossSite })
        expect(forged.status).toBe(403)
        expect(await forged.json()).toMatchObject({ error: 'origin_rejected' })

        // Login CSRF: a cross-site sign-in is a refusal with its ready answer, and no cookie.
        const forgedLogin = await server.send('/login', {
          method: 'POST',
          headers: { origin: 'https://evil.example' },
          body: JSON.stringify({ userId: 'mallory' }),
        })
        expect(forgedLogin.status).toBe(403)
        expect(forgedLogin.headers.get('set-cookie')).toBeNull()
        expect(await forgedLogin.json()).toMatchObject({ error: 'origin_rejected' })

        const stale = await server.send('/api/me', {
          headers: { cookie: `${COOKIE}=${generateToken()}` },
        })
        expect(stale.status).toBe(401)
        expect(stale.headers.get('set-cookie')).toMatch(new RegExp(`^${COOKIE}=;.*Max-Age=0`))
        const dropped = server.outcomes.at(-1)
        expect(dropped?.headers.get('set-cookie')).toMatch(/Max-Age=0/)
        expect(dropped?.headers.get('content-type')).toBeNull()
      } finally {
        await server.close()
      }
    })
  })

  describe('ward.authenticate(request)', () => {
    useFakeClock()

    it('takes the same decision as requireSession() for every refused request', async () => {
      const { call, ward: hosted } = await testApp(db, { cookie: { name: COOKIE, secure: false } })
      const cases: [string, { method?: string; headers: Record<string, string> }][] = [
        ['no token', { headers: {} }],
        ['a malformed Authorization header', { headers: { authorization: 'Basic abc' } }],
        ['an unknown token', { headers: { authorization: `Bearer ${generateToken()}` } }],
        ['garbage', { headers: { authorization: 'Bearer not-a-token' } }],
        [
          'a cross-site cookie POST',
          {
            method: 'POST',
            headers: { cookie: `${COOKIE}=${generateToken()}`, origin: 'https://evil.example' },
          },
        ],
      ]
      for (const [name, init] of cases) {
        const headers = { 'user-agent': CHROME_120, ...init.headers }
        const viaMiddleware = await call('/api/me', { method: init.method, headers })
        const outcome = await hosted.authenticate(
          new Request('http://localhost/api/me', { method: init.method, headers }),
        )
        expect('problem' in outcome, name).toBe(true)
        if (!('problem' in outcome)) continue
        const { response } = outcome
        expect(response.status, name).toBe(viaMiddleware.status)
        expect(outcome.problem.status, name).toBe(viaMiddleware.status)
        expect(await response.json(), name).toEqual(await viaMiddleware.json())
        for (const header of ['www-authenticate', 'cache-control', 'set-cookie']) {
          expect(response.headers.get(header), `${name}: ${header}`).toBe(
            viaMiddleware.headers.get(header),
          )
        }
      }
    })

    it('records activity with the given ip unless passive; policy(userId, c) sees the request', async () => {
      const roles: (string | undefined)[] = []
      const hosted = await ward({
        touchInterval: 0,
        policy: (_userId, c) => {
          roles.push(c.req.header('x-role'))
          return c.req.header('x-role') === 'admin' ? { warnAfter: 30, expireAfter: 60 } : {}
        },
      })
      const request = (init: RequestInit = {}) =>
        new Request('http://localhost/api/me', {
          ...init,
          headers: { 'user-agent': CHROME_120, 'x-role': 'admin', ...init.headers },
        })
      const signedIn = await hosted.signIn(request({ method: 'POST' }), 'alice', {
        ip: '203.0.113.7',
      })
      if ('problem' in signedIn) throw new Error(`sign-in refused: ${signedIn.problem.error}`)
      const bearer = { authorization: `Bearer ${signedIn.token}` }
      expect(signedIn.session.ip).toBe('203.0.113.7')
      expect(roles).toEqual(['admin'])

      db.queries.length = 0
      at(30)
      const passive = await hosted.authenticate(request({ headers: bearer }), { passive: true })
      expect('session' in passive).toBe(true)
      expect(activityWrites(db)).toBe(0)

      at(40)
      const active = await hosted.authenticate(request({ headers: bearer }), {
        ip: '198.51.100.4',
      })
      expect('session' in active && active.session.userId).toBe('alice')
      // The write is not awaited by the answer (defect 6): wait for it to land.
      await expect.poll(() => activityWrites(db)).toBe(1)
      const [row] = await db.sql<{ last_ip: string; last_activity_at: Date }>(
        'select last_ip, last_activity_at from sessionward_session where id = ?',
        [signedIn.session.id],
      )
      expect(row?.last_ip).toBe('198.51.100.4')

      // The admin's policy (idle 60 s) applies: 61 s after the last activity the session ends.
      at(40 + 61)
      const idle = await hosted.authenticate(request({ headers: bearer }))
      expect('problem' in idle && idle.problem).toMatchObject({
        status: 401,
        error: 'session_ended',
        reason: 'idle',
      })
    })
  })
})
