import { Hono } from 'hono'
import { beforeEach, expect, it } from 'vitest'
import type { WardEnv } from './middleware.ts'
import { CHROME_120 } from './test-support/app.ts'
import { at, useFakeClock } from './test-support/clock.ts'
import { activityWrites, onEachDatabase, type TestDatabase } from './test-support/db.ts'
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
})
