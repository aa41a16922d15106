import { beforeEach, describe, expect, it } from 'vitest'
import { CHROME_120, testApp } from './test-support/app.ts'
import { at, useFakeClock } from './test-support/clock.ts'
import { onEachDatabase, type TestDatabase } from './test-support/db.ts'
import type { SessionPolicy } from './vocabulary.ts'

// Whatever asks (a request, /ping, the sweep, the cap, the devices list, the admin view), a
// session is judged by the one policy in force: the latest answer of `policy()` for it.
onEachDatabase((open) => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await open()
  })
  useFakeClock()

  /** A policy that answers `first` once per user, then `later`. */
  function changingPolicy(first: Partial<SessionPolicy>, later: Partial<SessionPolicy>) {
    const asked = new Set<string>()
    return (userId: string) => {
      const answer = asked.has(userId) ? later : first
      asked.add(userId)
      return answer
    }
  }

  async function hostedApp(first: Partial<SessionPolicy>, later: Partial<SessionPolicy>) {
    const t = await testApp(db, { cacheTtl: 5, policy: changingPolicy(first, later) })
    t.app.route('/admin/sessions', t.ward.adminRoutes({ authorize: () => true }))
    return t
  }

  async function ping(t: Awaited<ReturnType<typeof hostedApp>>, token: string, idleFor: number) {
    const answer = await t.call('/session/ping', {
      method: 'POST',
      token,
      body: JSON.stringify({ idleFor }),
    })
    expect(answer.status).toBe(200)
    return (await answer.json()) as { expireAfter: number }
  }

  async function adminLive(t: Awaited<ReturnType<typeof hostedApp>>): Promise<string[]> {
    // The admin signs in now, so that its own session is live whatever the clock says.
    const admin = await t.login('root')
    const answer = await t.call('/admin/sessions?live=true&user=alice', {
      token: admin.token,
      headers: { accept: 'application/json' },
    })
    const { sessions } = (await answer.json()) as { sessions: { id: string }[] }
    return sessions.map((session) => session.id)
  }

  describe('issue 20 defect 3: the sweep judges by the idle limit stored at login', () => {
    it('a policy that lengthens the idle limit after login keeps the session live everywhere', async () => {
      const t = await hostedApp(
        { warnAfter: 4, expireAfter: 8 },
        { warnAfter: 300, expireAfter: 600 },
      )
      const alice = await t.login('alice')
      at(6) // past cacheTtl: the row is read again, and the policy now says 600 s
      expect(await ping(t, alice.token, 6)).toMatchObject({ expireAfter: 600 })
      await t.settled()
      at(100) // idle 100 s: past 8 s plus any write margin, far within 600 s
      expect(await t.ward.sweep()).toBe(0)
      expect((await t.ward.listSessions('alice')).sessions.map((s) => s.id)).toEqual([alice.id])
      expect(await adminLive(t)).toEqual([alice.id])
      const me = await t.call('/api/me', { token: alice.token })
      expect(me.status).toBe(200)
    })

    it('a policy that shortens the idle limit after login ends the session everywhere', async () => {
      const t = await hostedApp(
        { warnAfter: 300, expireAfter: 600 },
        { warnAfter: 4, expireAfter: 8 },
      )
      const alice = await t.login('alice')
      at(6)
      expect(await ping(t, alice.token, 6)).toMatchObject({ expireAfter: 8 })
      await t.settled()
      at(100) // idle 100 s: within 600 s, past 8 s plus the write margin (60 s)
      expect(await t.ward.listSessions('alice')).toMatchObject({ sessions: [] })
      expect(await adminLive(t)).toEqual([])
      expect(await t.ward.sweep()).toBe(1)
      const me = await t.call('/api/me', { token: alice.token })
      expect(await me.json()).toMatchObject({ error: 'session_ended', reason: 'idle' })
    })

    it('a maxAge shortened after login is the absolute end the sweep and the views use', async () => {
      const t = await hostedApp({ maxAge: 3600 }, { maxAge: 60 })
      const alice = await t.login('alice')
      at(6)
      await ping(t, alice.token, 0)
      await t.settled()
      at(61) // active, but past the shortened maxAge
      expect(await t.ward.listSessions('alice')).toMatchObject({ sessions: [] })
      expect(await adminLive(t)).toEqual([])
      expect(await t.ward.sweep()).toBe(1)
      const [row] = await db.sql<{ end_reason: string }>(
        'select end_reason from sessionward_session where id = ?',
        [alice.id],
      )
      expect(row?.end_reason).toBe('absolute')
    })
  })

  describe('issue 20 defect 10: what a policy may depend on', () => {
    it('two concurrent first requests share one policy answer, whichever request it saw', async () => {
      const seen: (string | undefined)[] = []
      const t = await testApp(db, {
        cacheTtl: 5,
        policy: (_userId, c) => {
          const role = c.req.header('x-role')
          seen.push(role)
          return role === 'admin' ? { warnAfter: 30, expireAfter: 60 } : {}
        },
      })
      const alice = await t.login('alice')
      seen.length = 0
      at(6) // past cacheTtl: both requests need the row and the policy
      const asks = ['admin', 'user'].map((role) =>
        t.call('/session/ping', {
          method: 'POST',
          token: alice.token,
          body: '{"idleFor":0}',
          headers: { 'x-role': role, 'user-agent': CHROME_120 },
        }),
      )
      const answers = await Promise.all(asks.map(async (a) => (await a).json()))
      // One load, one policy call: both requests are judged by the same answer.
      expect(seen).toHaveLength(1)
      expect(answers[0].expireAfter).toBe(answers[1].expireAfter)
    })

    it('the sweep asks nobody: it judges by the policy recorded for the session', async () => {
      const calls: unknown[] = []
      const t = await testApp(db, {
        policy: (_userId, c) => {
          calls.push(c)
          return { warnAfter: 4, expireAfter: 8 }
        },
      })
      await t.login('alice')
      calls.length = 0
      at(100)
      expect(await t.ward.sweep()).toBe(1)
      expect(calls).toEqual([])
    })
  })
})
