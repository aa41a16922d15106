import { randomBytes } from 'node:crypto'
import { beforeEach, expect, expectTypeOf, it } from 'vitest'
import type { WardEnv } from './middleware.ts'
import type { SessionInfo } from './session.ts'
import { testApp } from './test-support/app.ts'
import { at, START, useFakeClock } from './test-support/clock.ts'
import {
  activityWrites,
  onEachDatabase,
  refuseActivityWrites,
  type TestDatabase,
} from './test-support/db.ts'
import { generateToken } from './tokens.ts'
import type { SessionPolicy } from './vocabulary.ts'

const SECRET = randomBytes(32).toString('base64url')

/** A promise the test resolves by hand, to hold an async `policy()` in flight. */
function gate() {
  let open = () => {}
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return { opened, open }
}

/**
 * An async policy (a role lookup) that holds its next call until the test opens the gate, and
 * says when it has been entered: a session load is then in flight.
 */
function heldPolicy() {
  let hold: ReturnType<typeof gate> | null = null
  let entered = gate()
  const policy = async (): Promise<Partial<SessionPolicy>> => {
    const current = hold
    if (current) {
      hold = null
      entered.open()
      await current.opened
    }
    return {}
  }
  return {
    policy,
    /** Holds the next policy call; resolves once a load is waiting in it. */
    holdNext() {
      const held = gate()
      hold = held
      entered = gate()
      const waiting = entered.opened
      return { waiting, release: held.open }
    },
  }
}

onEachDatabase((open) => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await open()
  })
  useFakeClock()

  it('defect 2: a session revoked while its load is in flight never comes back', async () => {
    const held = heldPolicy()
    const { ward, login, call } = await testApp(db, { policy: held.policy })
    const alice = await login('alice')
    at(6) // past cacheTtl: the next request re-reads the row, and waits in policy()
    const { waiting, release } = held.holdNext()
    const inFlight = call('/api/me', { token: alice.token })
    await waiting
    expect(await ward.endSession(alice.id)).toBe(true)
    release()
    await inFlight
    for (let i = 0; i < 3; i++) {
      const after = await call('/api/me', { token: alice.token })
      expect(after.status).toBe(401)
      expect(await after.json()).toMatchObject({ error: 'session_ended', reason: 'revoked' })
    }
  })

  it('defect 2: a token rotated while its load is in flight stops working at once', async () => {
    const held = heldPolicy()
    const { login, call } = await testApp(db, {
      policy: held.policy,
      // Strict rotation (no reuse interval, defect 11), so the old token must be refused at once.
      jwt: { secret: SECRET, rotateOnRefresh: true, reuseInterval: 0 },
    })
    const alice = await login('alice')
    at(6) // past cacheTtl: this request re-reads the row, and waits in policy()
    const { waiting, release } = held.holdNext()
    const inFlight = call('/api/me', { token: alice.token })
    await waiting
    // Another tab's refresh, authenticated from the cache just before its TTL ran out.
    at(4)
    const rotated = await call('/session/token', { method: 'POST', token: alice.token })
    expect(rotated.status).toBe(200)
    at(6)
    release()
    await inFlight
    // The old token answers what the store says (retired), never what a late load cached.
    const old = await call('/api/me', { token: alice.token })
    expect(old.status).toBe(401)
  })

  it('defect 4: a handler cannot change what the next request of its session sees', async () => {
    const { app, login, call } = await testApp(db)
    const tampered: string[] = []
    const views: unknown[] = []
    app.get('/view', (c) => {
      views.push(c.var.session)
      return c.body(null, 204)
    })
    app.get('/tamper', (c) => {
      const session = c.var.session as { userId: string; lastActivityAt: Date } | null
      for (const change of [
        () => {
          if (session) session.userId = 'mallory'
        },
        () => session?.lastActivityAt.setTime(0),
      ]) {
        try {
          change()
        } catch (error) {
          tampered.push((error as Error).name)
        }
      }
      return c.json({ userId: c.var.session?.userId })
    })
    const alice = await login('alice')
    expect((await call('/tamper', { token: alice.token })).status).toBe(200)
    // The session and its dates are read-only (issue 20, defect 7).
    expect(tampered).toEqual(['TypeError', 'TypeError'])
    const me = await call('/api/me', { token: alice.token })
    expect(await me.json()).toEqual({ userId: 'alice' })
    const ping = await call('/session/ping', {
      method: 'POST',
      token: alice.token,
      body: '{"idleFor":0}',
    })
    expect(await ping.json()).toMatchObject({ idleFor: 0, expiresIn: 43_200 })
    // The view costs no copy per request: requests between two changes share one.
    for (let i = 0; i < 3; i++) await call('/view', { token: alice.token })
    expect(new Set(views).size).toBe(1)
  })

  it('defect 4: WardEnv shows apps the session, not the ward’s internal state', () => {
    // Checked by `tsc` (npm run typecheck): the per-request state is private to the ward.
    expectTypeOf<keyof WardEnv['Variables']>().toEqualTypeOf<'session'>()
    expectTypeOf<WardEnv['Variables']['session']>().toEqualTypeOf<Readonly<SessionInfo> | null>()
  })

  it('defect 7: a repeated unknown token costs no read', async () => {
    const { call } = await testApp(db)
    const unknown = Array.from({ length: 50 }, () => generateToken())
    db.queries.length = 0
    for (let round = 0; round < 3; round++) {
      for (const token of unknown) {
        const response = await call('/api/me', { token })
        expect(response.status).toBe(401)
        expect(await response.json()).toMatchObject({ error: 'unauthenticated' })
      }
    }
    const reads = db.queries.filter((q) => /\bselect\b/i.test(q)).length
    expect(reads).toBe(unknown.length)
  })

  it('defect 10: after a failed activity write the next request writes again', async () => {
    const warnings: string[] = []
    const logger = { info: () => {}, error: () => {}, warn: (line: string) => warnings.push(line) }
    const { settled, login, call } = await testApp(db, { touchInterval: 60, logger })
    const alice = await login('alice')
    const lastActivity = async () => {
      const [row] = await db.sql<{ last_activity_at: Date }>(
        'select last_activity_at from sessionward_session where id = ?',
        [alice.id],
      )
      return new Date(String(row?.last_activity_at)).getTime()
    }
    // No answer waits for its activity write (defect 6): the test waits for what it writes.
    await refuseActivityWrites(db, async () => {
      at(61)
      expect((await call('/api/me', { token: alice.token })).status).toBe(200)
      await settled()
    })
    expect(warnings).toEqual([expect.stringMatching(/could not record activity/)])
    at(62)
    expect((await call('/api/me', { token: alice.token })).status).toBe(200)
    await settled()
    expect(await lastActivity()).toBe(START + 62_000)
    // Concurrent requests of one session still write once.
    at(130)
    db.queries.length = 0
    const responses = await Promise.all(
      Array.from({ length: 5 }, () => call('/api/me', { token: alice.token })),
    )
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200])
    await settled()
    expect(activityWrites(db)).toBe(1)
    expect(await lastActivity()).toBe(START + 130_000)
  })
})
