import { Hono } from 'hono'
import type { WardEnv } from '../middleware.ts'
import type { WardOptions } from '../options.ts'
import { createWard, type Ward } from '../ward.ts'
import { CHROME_120 } from './browsers.ts'
import type { TestDatabase } from './db.ts'
import { leakCheckedLogger } from './leaks.ts'

export { CHROME_120, CHROME_121, FIREFOX_120 } from './browsers.ts'

/** A small host app wired the way the README tells users to. */
export interface TestApp {
  ward: Ward
  app: Hono<WardEnv>
  /**
   * Waits for the activity writes in flight (no answer waits for them). On the shared ORM
   * `ward.close()` does only that (the sweep is off in tests): the ward keeps working.
   */
  settled(): Promise<void>
  /** Logs `userId` in and returns the token. */
  login(userId: string, userAgent?: string): Promise<{ token: string; id: string }>
  /** A request with a Bearer token (or none) and a user agent. */
  call(
    path: string,
    init?: {
      method?: string
      token?: string
      body?: string
      userAgent?: string
      headers?: Record<string, string>
    },
  ): Promise<Response>
}

/**
 * A host app on the shared test database (or a postgres:// URL the ward opens itself):
 * `/login`, a protected `/api/me`, a passive `/api/poll`, and the session routes under
 * `/session`.
 */
export async function testApp(
  database: Pick<TestDatabase, 'orm'> | string,
  options: WardOptions = {},
): Promise<TestApp> {
  // No background sweep: tests sweep with `ward.sweep()` at a time they choose.
  const ward = await createWard({
    passive: ['/api/poll'],
    sweepInterval: 0,
    ...options,
    // Every line the ward logs is searched for tokens and digests (the run's log-leak check).
    logger: leakCheckedLogger(options.logger ?? console),
    database: typeof database === 'string' ? database : database.orm,
  })
  const app = new Hono<WardEnv>()
  app.use('*', ward.middleware())
  app.post('/login', async (c) => {
    const { userId } = await c.req.json<{ userId: string }>()
    const created = await ward.createSession(c, userId)
    return c.json({ token: created.token, id: created.session.id, evicted: created.evicted })
  })
  app.use('/api/*', ward.requireSession())
  app.get('/api/me', (c) => c.json({ userId: c.var.session?.userId }))
  app.get('/api/poll', (c) => c.json({ ok: true }))
  app.route('/session', ward.routes())
  const call: TestApp['call'] = async (path, init = {}) =>
    app.request(path, {
      method: init.method ?? 'GET',
      body: init.body,
      headers: {
        'user-agent': init.userAgent ?? CHROME_120,
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
        ...(init.body ? { 'content-type': 'application/json' } : {}),
        ...init.headers,
      },
    })
  return {
    ward,
    app,
    call,
    settled: () => ward.close(),
    login: async (userId, userAgent = CHROME_120) => {
      const response = await call('/login', {
        method: 'POST',
        body: JSON.stringify({ userId }),
        userAgent,
      })
      if (response.status !== 200) throw new Error(`login failed: ${response.status}`)
      return response.json()
    },
  }
}
