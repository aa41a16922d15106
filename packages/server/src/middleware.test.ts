import { inspect, types } from 'node:util'
import { Hono } from 'hono'
import { beforeEach, describe, expect, it } from 'vitest'
import type { WardEnv } from './middleware.ts'
import { CHROME_120 } from './test-support/app.ts'
import { at, useFakeClock } from './test-support/clock.ts'
import { activityWrites, onEachDatabase, type TestDatabase } from './test-support/db.ts'
import { findLeaks } from './test-support/leaks.ts'
import { hashToken } from './tokens.ts'
import { createWard, type Ward } from './ward.ts'

const reads = (db: TestDatabase) => db.queries.filter((q) => /\bselect\b/i.test(q)).length

/** An app that mounts the ward's pieces as `mount` says, with a login route and `/api/me`. */
function hostApp(ward: Ward, mount: (app: Hono<WardEnv>) => void) {
  const app = new Hono<WardEnv>()
  app.post('/login', async (c) => c.json(await ward.createSession(c, 'alice')))
  mount(app)
  const call = (path: string, token?: string, method = 'GET') =>
    app.request(path, {
      method,
      headers: {
        'user-agent': CHROME_120,
        accept: 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
    })
  const login = async () => {
    const response = await call('/login', undefined, 'POST')
    return ((await response.json()) as { token: string }).token
  }
  return { call, login }
}

/**
 * Every value reachable from `root` through own properties, hidden and symbol-keyed ones too. A
 * Date is a leaf (under the fake clock each one has its own `constructor`, the clock).
 */
function reachableFrom(root: unknown): unknown[] {
  const seen = new Set<unknown>()
  const visit = (value: unknown) => {
    if (seen.has(value)) return
    seen.add(value)
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return
    if (types.isDate(value)) return
    for (const key of Reflect.ownKeys(value)) {
      const property = Object.getOwnPropertyDescriptor(value, key)
      visit(property?.value)
      visit(property?.get)
    }
  }
  visit(root)
  return [...seen]
}

/** What a handler (or a request logger printing `c.var`) can see through `c.var`. */
function exposedBy(vars: object) {
  // `c.var` itself is a new object on every read: changing it changes nothing else.
  const values = reachableFrom(vars).filter((value) => value !== vars)
  const json = JSON.stringify(vars)
  return {
    keys: Reflect.ownKeys(vars),
    json,
    unfrozen: values.filter(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        !types.isDate(value) &&
        !Object.isFrozen(value),
    ),
    text: [
      json,
      inspect(vars, { showHidden: true, depth: null }),
      ...values.filter((value) => typeof value === 'string'),
    ].join('\n'),
  }
}

onEachDatabase((open) => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await open()
  })
  useFakeClock()

  it('requireSession() alone reads the token, answers 401 without one, and records activity', async () => {
    const ward = await createWard({ sweepInterval: 0, database: db.orm, touchInterval: 60 })
    const { call, login } = hostApp(ward, (app) => {
      app.get('/api/me', ward.requireSession(), (c) => c.json({ userId: c.var.session?.userId }))
    })
    const token = await login()
    const me = await call('/api/me', token)
    expect(me.status).toBe(200)
    expect(await me.json()).toEqual({ userId: 'alice' })
    const anonymous = await call('/api/me')
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="sessionward"')
    expect(await anonymous.json()).toMatchObject({ error: 'unauthenticated' })
    db.queries.length = 0
    at(61)
    expect((await call('/api/me', token)).status).toBe(200)
    await ward.close() // waits for the activity write, which the answer never does
    expect(activityWrites(db)).toBe(1)
  })

  it('ward.routes() and adminRoutes() work without ward.middleware() on the app', async () => {
    const ward = await createWard({ sweepInterval: 0, database: db.orm })
    const { call, login } = hostApp(ward, (app) => {
      app.route('/session', ward.routes())
      app.route('/admin/sessions', ward.adminRoutes({ authorize: () => true }))
    })
    const token = await login()
    const devices = await call('/session/sessions', token)
    expect(devices.status).toBe(200)
    expect(((await devices.json()) as { sessions: unknown[] }).sessions).toHaveLength(1)
    const admin = await call('/admin/sessions?live=true', token)
    expect(admin.status).toBe(200)
    expect(((await admin.json()) as { sessions: unknown[] }).sessions).toHaveLength(1)
    expect((await call('/session/logout', token, 'POST')).status).toBe(204)
    const after = await call('/session/sessions', token)
    expect(after.status).toBe(401)
    expect(await after.json()).toMatchObject({ error: 'session_ended', reason: 'logout' })
  })

  it('mounted more than once, the ward reads the store and records activity once per request', async () => {
    const ward = await createWard({
      sweepInterval: 0,
      database: db.orm,
      touchInterval: 60,
      cacheTtl: 0,
    })
    const { call, login } = hostApp(ward, (app) => {
      app.use('*', ward.middleware())
      app.use('/api/*', ward.middleware(), ward.requireSession())
      app.get('/api/me', ward.requireSession(), (c) => c.json({ userId: c.var.session?.userId }))
    })
    const token = await login()
    at(61)
    db.queries.length = 0
    expect((await call('/api/me', token)).status).toBe(200)
    // cacheTtl 0: every request re-reads its row, once; the touch is due, and written once.
    expect(reads(db)).toBe(1)
    await ward.close() // waits for the activity write, which the answer never does
    expect(activityWrites(db)).toBe(1)
  })

  describe('issue 20 defect 7: c.var hands out internals', () => {
    it('c.var holds the frozen session and nothing else: no ward state, no token, no digest', async () => {
      const ward = await createWard({ sweepInterval: 0, database: db.orm })
      const seen: ReturnType<typeof exposedBy>[] = []
      const printed: string[] = []
      const { call, login } = hostApp(ward, (app) => {
        app.use('*', ward.middleware())
        app.get('/api/var', ward.requireSession(), (c) => {
          seen.push(exposedBy(c.var))
          printed.push(inspect(c, { depth: null })) // a logger printing the whole context
          return c.body(null, 204)
        })
      })
      const token = await login()
      expect((await call('/api/var', token)).status).toBe(204) // a cache hit
      at(6)
      expect((await call('/api/var', token)).status).toBe(204) // past cacheTtl: read from the store
      expect(seen).toHaveLength(2)
      for (const { keys, unfrozen, text } of seen) {
        expect(keys).toEqual(['session'])
        expect(unfrozen).toEqual([])
        expect(text).toContain('"userId":"alice"')
        expect(text).not.toContain(token)
        expect(text).not.toContain(hashToken(token))
        expect(findLeaks(text)).toEqual([])
      }
      // The context carries the request, token included, but never the ward's digest of it.
      for (const context of printed) expect(context).not.toContain(hashToken(token))
    })

    it('requireSession() alone: what a handler changes through c.var, later requests do not see', async () => {
      const ward = await createWard({ sweepInterval: 0, database: db.orm })
      const seen: ReturnType<typeof exposedBy>[] = []
      const refused: string[] = []
      const { call, login } = hostApp(ward, (app) => {
        app.get('/api/var', ward.requireSession(), (c) => {
          seen.push(exposedBy(c.var))
          return c.body(null, 204)
        })
        app.get('/api/tamper', ward.requireSession(), (c) => {
          // Every object a handler can reach through c.var, changed wherever it lets itself be.
          for (const value of reachableFrom(c.var)) {
            if (types.isDate(value)) continue
            if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
              Object.assign(value, { userId: 'mallory', expiresAt: new Date(0) })
            }
          }
          refused.push(...thrownBy(() => Object.assign(c.var.session ?? {}, { userId: 'mallory' })))
          return c.body(null, 204)
        })
      })
      const token = await login()
      expect((await call('/api/var', token)).status).toBe(204)
      expect((await call('/api/tamper', token)).status).toBe(204)
      expect(refused).toEqual(['TypeError']) // the session itself is frozen
      expect((await call('/api/var', token)).status).toBe(204) // the same second: the same view
      at(1)
      expect((await call('/api/var', token)).status).toBe(204) // records activity at 1 s
      expect((await call('/api/var', token)).status).toBe(204) // a new view of the cached session
      const [before, ...after] = seen.map(({ json }) => JSON.parse(json))
      expect(after).toEqual([
        before,
        before,
        { session: { ...before.session, lastActivityAt: '2026-11-23T09:00:01.000Z' } },
      ])
      expect(seen.map(({ keys }) => keys)).toEqual(Array(4).fill(['session']))
    })

    it("the session's dates cannot be changed either: a setter throws, the next request sees the true dates", async () => {
      const ward = await createWard({ sweepInterval: 0, database: db.orm })
      const expiries: string[] = []
      const refused: string[] = []
      const { call, login } = hostApp(ward, (app) => {
        app.get('/api/var', ward.requireSession(), (c) => {
          expiries.push(String(c.var.session?.expiresAt.toISOString()))
          return c.body(null, 204)
        })
        app.get('/api/tamper', ward.requireSession(), (c) => {
          const session = c.var.session
          for (const date of [session?.expiresAt, session?.createdAt, session?.lastActivityAt]) {
            refused.push(
              ...thrownBy(() => date?.setTime(0)),
              ...thrownBy(() => date?.setFullYear(1970)),
            )
          }
          return c.body(null, 204)
        })
      })
      const token = await login()
      expect((await call('/api/var', token)).status).toBe(204)
      expect((await call('/api/tamper', token)).status).toBe(204)
      expect((await call('/api/var', token)).status).toBe(204) // the same second: the same view
      expect(refused).toEqual(Array(6).fill('TypeError'))
      expect(expiries[1]).toBe(expiries[0])
      expect(expiries[0]).not.toBe(new Date(0).toISOString())
    })
  })
})

/** The name of the error `change` throws, as a list of none or one. */
function thrownBy(change: () => unknown): string[] {
  try {
    change()
    return []
  } catch (error) {
    return [(error as Error).name]
  }
}
