import { Hono } from 'hono'
import { beforeEach, describe, expect, it } from 'vitest'
import type { WardEnv } from './middleware.ts'
import { CHROME_120 } from './test-support/app.ts'
import { onEachDatabase, type TestDatabase } from './test-support/db.ts'
import { createWard } from './ward.ts'

/** A host app like the demo: its own notFound answers HTML, the ward's mounts sit inside it. */
async function htmlHost(db: TestDatabase) {
  const ward = await createWard({ database: db.orm })
  const app = new Hono<WardEnv>()
  app.use('*', ward.middleware())
  app.post('/login', async (c) => c.json(await ward.createSession(c, 'admin')))
  app.route('/session', ward.routes())
  app.route(
    '/admin/sessions',
    ward.adminRoutes({ authorize: (c) => c.var.session?.userId === 'admin' }),
  )
  app.notFound((c) => c.html('<h1>Not here</h1>', 404))
  const login = await app.request('/login', {
    method: 'POST',
    headers: { 'user-agent': CHROME_120 },
  })
  const { token } = (await login.json()) as { token: string }
  const call = (
    method: string,
    path: string,
    init: { body?: BodyInit; headers?: Record<string, string> } = {},
  ) =>
    app.request(path, {
      method,
      body: init.body,
      // A streamed body (no Content-Length) needs half duplex.
      ...(init.body instanceof ReadableStream ? { duplex: 'half' } : {}),
      headers: { 'user-agent': CHROME_120, authorization: `Bearer ${token}`, ...init.headers },
    })
  return { app, call }
}

async function expectProblem(response: Response, status: number, error: string) {
  expect(response.status).toBe(status)
  expect(response.headers.get('content-type')).toMatch(/^application\/json/)
  const body = await response.json()
  expect(body).toMatchObject({ error })
  expect(typeof body.message).toBe('string')
}

onEachDatabase((open) => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await open()
  })

  describe('defect 13: JSON errors under the ward’s mounts', () => {
    it('an unknown path answers 404 not_found JSON, not the host’s HTML page', async () => {
      const { call } = await htmlHost(db)
      for (const path of [
        '/session/nope',
        '/session/sessions/a/b',
        '/admin/sessions/a/b/c',
        '/admin/sessions/00000000-0000-4000-8000-000000000000/nope',
      ]) {
        await expectProblem(await call('GET', path), 404, 'not_found')
      }
      // Outside the mounts the host's own page still answers.
      for (const path of ['/elsewhere', '/sessionx', '/admin/sessionsx']) {
        const host = await call('GET', path)
        expect(host.status).toBe(404)
        expect(await host.text()).toBe('<h1>Not here</h1>')
      }
    })

    it('a wrong method answers 405 method_not_allowed JSON with Allow', async () => {
      const { call } = await htmlHost(db)
      const cases: Array<[string, string, string]> = [
        ['GET', '/session/ping', 'POST'],
        ['GET', '/session/logout', 'POST'],
        ['PUT', '/session/sessions', 'GET, HEAD, DELETE'],
        ['POST', '/session/history', 'GET, HEAD'],
        ['GET', '/session/token', 'POST'],
        ['PATCH', '/admin/sessions', 'GET, HEAD, DELETE'],
        ['PUT', '/admin/sessions/end', 'POST'],
        ['PUT', '/admin/sessions/00000000-0000-4000-8000-000000000000', 'GET, HEAD, DELETE'],
      ]
      for (const [method, path, allow] of cases) {
        const response = await call(method, path)
        expect(response.headers.get('allow'), `${method} ${path}`).toBe(allow)
        await expectProblem(response, 405, 'method_not_allowed')
      }
    })

    it('an oversized ping body answers 400 invalid_request JSON, with or without Content-Length', async () => {
      const { call } = await htmlHost(db)
      const body = JSON.stringify({ idleFor: 1, pad: 'x'.repeat(4096) })
      await expectProblem(
        await call('POST', '/session/ping', {
          body,
          headers: { 'content-type': 'application/json' },
        }),
        400,
        'invalid_request',
      )
      const stream = new Blob([body]).stream()
      await expectProblem(
        await call('POST', '/session/ping', {
          body: stream,
          headers: { 'content-type': 'application/json' },
        }),
        400,
        'invalid_request',
      )
    })
  })
})
