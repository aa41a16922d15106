import { beforeEach, describe, expect, it } from 'vitest'
import { CHROME_120, FIREFOX_120, testApp } from './test-support/app.ts'
import { at, START, useFakeClock } from './test-support/clock.ts'
import { onEachDatabase, type TestDatabase } from './test-support/db.ts'
import type { EndReason } from './vocabulary.ts'

async function rows(db: TestDatabase, userId: string) {
  return db.sql<{ id: string; ended_at: Date | null; end_reason: string | null }>(
    'select id, ended_at, end_reason from sessionward_session where user_id = ? order by created_at',
    [userId],
  )
}

onEachDatabase((open) => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await open()
  })
  useFakeClock()

  describe('logLimit', () => {
    async function endFour(logLimit: number | null) {
      const { login, call } = await testApp(db, { logLimit })
      const live = await login('alice')
      const ended: string[] = []
      for (let i = 1; i <= 4; i++) {
        at(i * 10)
        const session = await login('alice')
        await call('/session/logout', { method: 'POST', token: session.token })
        ended.push(session.id)
      }
      await login('bob').then((bob) =>
        call('/session/logout', { method: 'POST', token: bob.token }),
      )
      return { live, ended }
    }

    it('2 keeps the two most recently ended rows per user and never a live one less', async () => {
      const { live, ended } = await endFour(2)
      const alice = await rows(db, 'alice')
      expect(alice.map((r) => r.id)).toEqual([live.id, ended[2], ended[3]])
      expect(alice[0]?.ended_at).toBeNull()
      expect(await rows(db, 'bob')).toHaveLength(1)
    })

    it('0 keeps no ended row', async () => {
      const { live } = await endFour(0)
      expect((await rows(db, 'alice')).map((r) => r.id)).toEqual([live.id])
      expect(await rows(db, 'bob')).toHaveLength(0)
    })

    it('evictions at sign-in are trimmed by the next sweep round, not at login (issue 21)', async () => {
      // A sweep timer far in the future: the test runs the round itself.
      const { ward, login } = await testApp(db, {
        logLimit: 2,
        maxSessions: 1,
        sweepInterval: 3600,
      })
      for (let i = 0; i <= 5; i++) {
        at(i * 10)
        await login('alice')
      }
      const ended = async () => (await rows(db, 'alice')).filter((r) => r.ended_at !== null)
      // Five evictions, none trimmed yet: the login path left the log to the sweep.
      expect(await ended()).toHaveLength(5)
      await ward.sweep()
      const kept = await ended()
      expect(kept).toHaveLength(2)
      expect(kept.map((r) => r.end_reason)).toEqual(['evicted', 'evicted'])
      expect((await rows(db, 'alice')).filter((r) => r.ended_at === null)).toHaveLength(1)
      await ward.close()
    })

    it('null keeps every ended row', async () => {
      const { ended } = await endFour(null)
      expect((await rows(db, 'alice')).filter((r) => r.ended_at !== null).map((r) => r.id)).toEqual(
        ended,
      )
    })
  })

  describe('GET /session/history', () => {
    it('shows only the caller’s ended sessions, newest first, with reasons and devices', async () => {
      const { login, call } = await testApp(db, { warnAfter: 60, expireAfter: 120 })
      const current = await login('alice')
      const idle = await login('alice', FIREFOX_120)
      at(10)
      const loggedOut = await login('alice')
      await call('/session/logout', { method: 'POST', token: loggedOut.token })
      const bob = await login('bob')
      await call('/session/logout', { method: 'POST', token: bob.token })
      at(100)
      await call('/api/me', { token: current.token })
      at(130)
      expect((await call('/api/me', { token: idle.token, userAgent: FIREFOX_120 })).status).toBe(
        401,
      )
      const response = await call('/session/history', { token: current.token })
      expect(response.status).toBe(200)
      const { sessions } = await response.json()
      expect(sessions.map((s: { id: string; endReason: string }) => [s.id, s.endReason])).toEqual([
        [idle.id, 'idle'],
        [loggedOut.id, 'logout'],
      ])
      expect(sessions[0]).toMatchObject({
        endedAt: new Date(START + 130_000).toISOString(),
        userAgent: { browser: 'Firefox', raw: FIREFOX_120 },
      })
      expect(JSON.stringify(sessions)).not.toMatch(/token|swt_|[0-9a-f]{64}/i)
    })

    it('limit picks the newest n', async () => {
      const { login, call } = await testApp(db)
      const current = await login('alice', CHROME_120)
      for (let i = 1; i <= 3; i++) {
        at(i)
        const s = await login('alice')
        await call('/session/logout', { method: 'POST', token: s.token })
      }
      const { sessions } = await (
        await call('/session/history?limit=2', { token: current.token })
      ).json()
      expect(sessions).toHaveLength(2)
      expect(sessions[0].endedAt > sessions[1].endedAt).toBe(true)
    })
  })

  describe('hooks', () => {
    it('onSessionEnd fires exactly once per end, whatever the path; onSessionStart once per login', async () => {
      const ends: Array<[string, EndReason]> = []
      const starts: string[] = []
      const { ward, login, call } = await testApp(db, {
        warnAfter: 60,
        expireAfter: 120,
        maxAge: 1000,
        maxSessions: 3,
        hooks: {
          onSessionStart: (session) => void starts.push(session.id),
          onSessionEnd: (session, reason) => void ends.push([session.id, reason]),
        },
      })
      const logout = await login('a')
      await call('/session/logout', { method: 'POST', token: logout.token })
      await call('/session/logout', { method: 'POST', token: logout.token })
      const idle = await login('b')
      const absolute = await login('c')
      for (let second = 100; second < 1000; second += 100) {
        at(second)
        await call('/api/me', { token: absolute.token })
        if (second === 200) {
          await Promise.all([1, 2, 3].map(() => call('/api/me', { token: idle.token })))
        }
      }
      at(1000)
      await call('/api/me', { token: absolute.token })
      const owner = await login('d')
      const revoked = await login('d')
      await call(`/session/sessions/${revoked.id}`, { method: 'DELETE', token: owner.token })
      const evicted = []
      for (let i = 1; i <= 3; i++) {
        at(1000 + i)
        evicted.push(await login('e'))
      }
      at(1004)
      await login('e')
      const uaChanged = await login('f')
      await call('/api/me', { token: uaChanged.token, userAgent: FIREFOX_120 })
      await call('/api/me', { token: uaChanged.token, userAgent: FIREFOX_120 })
      expect(await ward.endSession(owner.id, 'admin')).toBe(true)
      expect(await ward.endSession(owner.id, 'admin')).toBe(false)
      expect(ends).toEqual([
        [logout.id, 'logout'],
        [idle.id, 'idle'],
        [absolute.id, 'absolute'],
        [revoked.id, 'revoked'],
        [evicted[0]?.id, 'evicted'],
        [uaChanged.id, 'user_agent_changed'],
        [owner.id, 'admin'],
      ])
      expect(starts).toHaveLength(10)
    })

    it('a throwing hook is logged and never breaks the request', async () => {
      const logged: string[] = []
      const { login, call } = await testApp(db, {
        logger: {
          info: () => {},
          warn: () => {},
          error: (message: string) => void logged.push(message),
        },
        hooks: {
          onSessionStart: () => {
            throw new Error('audit log down')
          },
          onSessionEnd: async () => {
            throw new Error('audit log down')
          },
        },
      })
      const { token } = await login('alice')
      expect((await call('/session/logout', { method: 'POST', token })).status).toBe(204)
      expect(logged).toEqual([
        'sessionward: hooks.onSessionStart threw',
        'sessionward: hooks.onSessionEnd threw',
      ])
    })
  })
})
