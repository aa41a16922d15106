import { randomBytes } from 'node:crypto'
import { beforeEach, describe, expect, it } from 'vitest'
import { testApp } from './test-support/app.ts'
import { onEachDatabase, type TestDatabase } from './test-support/db.ts'

// Issue 14 part 4: every answer that carries a token or session data says no cache may keep it
// (OWASP ASVS 5.0 V14.3.2); logout also asks the browser to drop its cookies.
describe('Cache-Control: no-store and Clear-Site-Data', () =>
  onEachDatabase((open) => {
    let db: TestDatabase
    beforeEach(async () => {
      db = await open()
    })

    it('the app’s login answer (createSession) and every /session route answer carry no-store', async () => {
      const app = await testApp(db, { jwt: { secret: randomBytes(32).toString('base64url') } })
      const signIn = await app.call('/login', {
        method: 'POST',
        body: JSON.stringify({ userId: 'alice' }),
      })
      expect(signIn.status).toBe(200)
      expect(signIn.headers.get('cache-control')).toBe('no-store')
      const { token } = await app.login('alice')
      const other = await app.login('alice')
      const answers: [string, Response][] = []
      const ask = async (path: string, method = 'GET', body?: string) => {
        answers.push([`${method} ${path}`, await app.call(path, { method, token, body })])
      }
      await ask('/session/ping', 'POST', '{"idleFor":0}')
      await ask('/session/sessions')
      await ask('/session/history')
      await ask('/session/token', 'POST')
      await ask(`/session/sessions/${other.id}`, 'DELETE')
      await ask('/session/sessions?others=true', 'DELETE')
      await ask('/session/nowhere')
      await ask('/session/ping', 'POST', 'not json')
      await ask('/session/logout', 'POST')
      await ask('/session/sessions') // 401 session_ended
      const statuses = answers.map(([route, response]) => [route, response.status])
      expect(statuses).toEqual([
        ['POST /session/ping', 200],
        ['GET /session/sessions', 200],
        ['GET /session/history', 200],
        ['POST /session/token', 200],
        [`DELETE /session/sessions/${other.id}`, 204],
        ['DELETE /session/sessions?others=true', 200],
        ['GET /session/nowhere', 404],
        ['POST /session/ping', 400],
        ['POST /session/logout', 204],
        ['GET /session/sessions', 401],
      ])
      for (const [route, response] of answers) {
        expect([route, response.headers.get('cache-control')]).toEqual([route, 'no-store'])
      }
    })

    it('logout answers Clear-Site-Data: "cookies" when the ward uses its cookie, not in bearer-only mode', async () => {
      const withCookie = await testApp(db)
      const alice = await withCookie.login('alice')
      const logout = await withCookie.call('/session/logout', {
        method: 'POST',
        token: alice.token,
      })
      expect(logout.status).toBe(204)
      expect(logout.headers.get('clear-site-data')).toBe('"cookies"')
      // A retried logout (the session has ended) is confirmed the same way.
      const again = await withCookie.call('/session/logout', { method: 'POST', token: alice.token })
      expect(again.status).toBe(204)
      expect(again.headers.get('clear-site-data')).toBe('"cookies"')

      const bearerOnly = await testApp(db, { cookie: false })
      const bob = await bearerOnly.login('bob')
      const bearerLogout = await bearerOnly.call('/session/logout', {
        method: 'POST',
        token: bob.token,
      })
      expect(bearerLogout.status).toBe(204)
      expect(bearerLogout.headers.get('clear-site-data')).toBeNull()
    })
  }))
