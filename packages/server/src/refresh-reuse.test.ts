import { randomBytes } from 'node:crypto'
import { beforeEach, describe, expect, it } from 'vitest'
import { resolveJwtOptions } from './jwt-options.ts'
import { CHROME_120, testApp } from './test-support/app.ts'
import { at, useFakeClock } from './test-support/clock.ts'
import { onEachDatabase, type TestDatabase } from './test-support/db.ts'

const SECRET = randomBytes(32).toString('base64url')
const COOKIE = /__Host-sessionward=(swt_[A-Za-z0-9_-]{43})/

onEachDatabase((open) => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await open()
  })
  useFakeClock()

  async function rotatingApp(reuseInterval?: number) {
    const ends: string[] = []
    const app = await testApp(db, {
      jwt: {
        secret: SECRET,
        rotateOnRefresh: true,
        ...(reuseInterval === undefined ? {} : { reuseInterval }),
      },
      hooks: { onSessionEnd: (_s, reason) => void ends.push(reason) },
    })
    const refreshWithCookie = (token: string) =>
      app.app.request('http://localhost/session/token', {
        method: 'POST',
        headers: {
          'user-agent': CHROME_120,
          cookie: `__Host-sessionward=${token}`,
          origin: 'http://localhost',
        },
      })
    return { ...app, ends, refreshWithCookie }
  }

  async function endReason(id: string) {
    const [row] = await db.sql<{ end_reason: string | null }>(
      'select end_reason from sessionward_session where id = ?',
      [id],
    )
    return row?.end_reason
  }

  describe('defect 11: rotateOnRefresh accepts the previous token for a short reuse interval', () => {
    it('two simultaneous refreshes with one cookie both answer 200 and the session stays live', async () => {
      const app = await rotatingApp()
      const { token, id } = await app.login('alice')
      const answers = await Promise.all([
        app.refreshWithCookie(token),
        app.refreshWithCookie(token),
      ])
      expect(answers.map((response) => response.status)).toEqual([200, 200])
      for (const response of answers) {
        const { access } = (await response.json()) as { access: string }
        expect((await app.call('/api/me', { token: access })).status).toBe(200)
      }
      // One live chain: exactly one answer carries the new token; the other leaves the cookie.
      const fresh = answers
        .map((response) => COOKIE.exec(response.headers.get('set-cookie') ?? '')?.[1])
        .filter((value) => value !== undefined)
      expect(fresh).toHaveLength(1)
      expect((await app.call('/api/me', { token: fresh[0] })).status).toBe(200)
      // Within the interval a tab still holding the old cookie is let in.
      at(9)
      expect((await app.call('/api/me', { token })).status).toBe(200)
      expect(await endReason(id)).toBeNull()
      expect(app.ends).toEqual([])
    })

    it('a retired token after the interval ends the session with refresh_reuse', async () => {
      const app = await rotatingApp()
      const { token, id } = await app.login('alice')
      const first = await app.call('/session/token', { method: 'POST', token })
      const { token: next } = (await first.json()) as { token: string }
      at(10)
      const reuse = await app.call('/session/token', { method: 'POST', token })
      expect(reuse.status).toBe(401)
      expect(await reuse.json()).toMatchObject({ error: 'session_ended', reason: 'refresh_reuse' })
      expect((await app.call('/api/me', { token: next })).status).toBe(401)
      expect(await endReason(id)).toBe('refresh_reuse')
      expect(app.ends).toEqual(['refresh_reuse'])
    })

    it('only the immediately previous token is accepted; reuseInterval 0 accepts none', async () => {
      const app = await rotatingApp()
      const { token, id } = await app.login('alice')
      const { token: second } = (await (
        await app.call('/session/token', { method: 'POST', token })
      ).json()) as { token: string }
      await app.call('/session/token', { method: 'POST', token: second })
      at(1)
      const older = await app.call('/api/me', { token })
      expect(await older.json()).toMatchObject({ reason: 'refresh_reuse' })
      expect(await endReason(id)).toBe('refresh_reuse')

      const strict = await rotatingApp(0)
      const alice = await strict.login('alice')
      await strict.call('/session/token', { method: 'POST', token: alice.token })
      const again = await strict.call('/session/token', { method: 'POST', token: alice.token })
      expect(await again.json()).toMatchObject({ reason: 'refresh_reuse' })
    })

    it('jwt.reuseInterval is validated like the other jwt options', () => {
      for (const bad of [-1, 61, 1.5, '10', null]) {
        expect(() => resolveJwtOptions({ secret: SECRET, reuseInterval: bad } as never)).toThrow(
          /jwt\.reuseInterval must be a whole number of seconds from 0 to 60/,
        )
      }
      expect(resolveJwtOptions({ secret: SECRET }).reuseInterval).toBe(10)
    })
  })
})
