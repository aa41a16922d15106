import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type CappedOutcome, Store } from './store.ts'
import { testApp } from './test-support/app.ts'
import { at } from './test-support/clock.ts'
import { onEachDatabase, type TestDatabase } from './test-support/db.ts'

const LOGINS = 50
const CAP = 3
const REPEATS = 5

async function liveCount(db: TestDatabase, userId: string): Promise<number> {
  const rows = await db.sql<{ n: number }>(
    'select count(*)::int as n from sessionward_session where user_id = ? and ended_at is null',
    [userId],
  )
  return rows[0]?.n ?? -1
}

onEachDatabase((open) => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await open()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  describe(`${LOGINS} concurrent logins of one user with maxSessions ${CAP}`, () => {
    it.each(Array.from({ length: REPEATS }, (_, i) => [i + 1]))(
      'evict-oldest leaves exactly 3 live and evicts 47, each reported once (run %i)',
      async () => {
        await db.reset()
        const ended: string[] = []
        const { ward } = await testApp(db, {
          maxSessions: CAP,
          logLimit: null, // keep every ended row, to count them
          hooks: { onSessionEnd: (session, reason) => void ended.push(`${session.id}:${reason}`) },
        })
        const results = await Promise.all(
          Array.from({ length: LOGINS }, () =>
            ward.createSession(fakeLoginContext(), 'alice').then(
              (created) => ({ ok: true as const, created }),
              (error: unknown) => ({ ok: false as const, error }),
            ),
          ),
        )
        expect(results.filter((r) => !r.ok)).toEqual([])
        expect(await liveCount(db, 'alice')).toBe(CAP)
        const evictedRows = await db.sql<{ n: number }>(
          "select count(*)::int as n from sessionward_session where user_id = 'alice' and end_reason = 'evicted'",
        )
        expect(evictedRows[0]?.n).toBe(LOGINS - CAP)
        expect(ended).toHaveLength(LOGINS - CAP)
        expect(new Set(ended).size).toBe(LOGINS - CAP)
        expect(ended.every((e) => e.endsWith(':evicted'))).toBe(true)
        const reportedEvictions = results.flatMap((r) => (r.ok ? r.created.evicted : []))
        expect(reportedEvictions.sort()).toEqual(ended.map((e) => e.split(':')[0]).sort())
      },
    )

    it.each(Array.from({ length: REPEATS }, (_, i) => [i + 1]))(
      'deny: exactly 47 logins answer 403 session_limit and nothing else changes (run %i)',
      async () => {
        await db.reset()
        const { call } = await testApp(db, { maxSessions: CAP, onLimit: 'deny' })
        const responses = await Promise.all(
          Array.from({ length: LOGINS }, () =>
            call('/login', { method: 'POST', body: JSON.stringify({ userId: 'alice' }) }),
          ),
        )
        const statuses = responses.map((r) => r.status)
        expect(statuses.filter((s) => s === 200)).toHaveLength(CAP)
        expect(statuses.filter((s) => s === 403)).toHaveLength(LOGINS - CAP)
        const denied = await Promise.all(
          responses.filter((r) => r.status === 403).map((r) => r.json()),
        )
        expect(denied.every((body) => body.error === 'session_limit')).toBe(true)
        expect(denied[0]?.message).toMatch(/already has 3 active sessions/)
        const rows = await db.sql<{ n: number; ended: number }>(
          "select count(*)::int as n, count(ended_at)::int as ended from sessionward_session where user_id = 'alice'",
        )
        expect(rows[0]).toEqual({ n: CAP, ended: 0 })
      },
    )
  })

  it('evicts the least recently active session first', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    at(0)
    const { login, call } = await testApp(db, { maxSessions: 3, touchInterval: 0 })
    const first = await login('alice')
    const second = await login('alice')
    const third = await login('alice')
    // Activity order, oldest to newest: second, third, first.
    at(10)
    await call('/api/me', { token: second.token })
    at(20)
    await call('/api/me', { token: third.token })
    at(30)
    await call('/api/me', { token: first.token })
    at(40)
    const fourth = await call('/login', {
      method: 'POST',
      body: JSON.stringify({ userId: 'alice' }),
    })
    expect((await fourth.json()).evicted).toEqual([second.id])
    const evicted = await call('/api/me', { token: second.token })
    expect(await evicted.json()).toMatchObject({ error: 'session_ended', reason: 'evicted' })
    for (const survivor of [first, third]) {
      expect((await call('/api/me', { token: survivor.token })).status).toBe(200)
    }
  })

  it('defect 3: evict-oldest counts activity the cache has not written yet, ties by created_at', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    at(0)
    const { login, call } = await testApp(db, { maxSessions: 3 }) // default touchInterval (60)
    const a = await login('alice')
    at(1)
    const b = await login('alice')
    at(2)
    await login('alice')
    at(30)
    expect((await call('/api/me', { token: a.token })).status).toBe(200) // cached, not written
    at(40)
    const fourth = await call('/login', {
      method: 'POST',
      body: JSON.stringify({ userId: 'alice' }),
    })
    expect((await fourth.json()).evicted).toEqual([b.id])
    // Same activity everywhere: the oldest created goes first, whatever the random ids say.
    await db.reset()
    at(100)
    const first = await login('bob')
    at(101)
    const second = await login('bob')
    at(102)
    const third = await login('bob')
    await db.sql("update sessionward_session set last_activity_at = ? where user_id = 'bob'", [
      new Date(),
    ])
    const { ward } = await testApp(db, { maxSessions: 3 })
    const created = await ward.createSession(fakeLoginContext(), 'bob')
    expect(created.evicted).toEqual([first.id])
    expect(await liveCount(db, 'bob')).toBe(3)
    expect([second.id, third.id]).not.toContain(first.id)
  })

  it('issue 21: an instance that remembers the user at the cap still lets them in once another instance ended a session (deny is judged on sessions read now)', async () => {
    const options = { maxSessions: 2, onLimit: 'deny' as const }
    const a = await testApp(db, options)
    const b = await testApp(db, options)
    await a.login('alice')
    const second = await a.login('alice') // a remembers alice at the cap
    expect((await b.call('/session/logout', { method: 'POST', token: second.token })).status).toBe(
      204,
    )
    const third = await a.call('/login', {
      method: 'POST',
      body: JSON.stringify({ userId: 'alice' }),
    })
    expect(third.status).toBe(200)
    expect(await liveCount(db, 'alice')).toBe(2)
    const fourth = await a.call('/login', {
      method: 'POST',
      body: JSON.stringify({ userId: 'alice' }),
    })
    expect(fourth.status).toBe(403)
    expect(await fourth.json()).toMatchObject({ error: 'session_limit' })
  })

  it('issue 21: a sign-in planned on sessions another instance changed plans again: the cap holds, the least recently active goes', async () => {
    // Each sign-in at its own second: two in one millisecond tie on activity, and which one is
    // the most recent would be the database's pick.
    vi.useFakeTimers({ toFake: ['Date'] })
    at(0)
    const options = { maxSessions: 2 }
    const a = await testApp(db, options)
    const b = await testApp(db, options)
    const first = await a.login('alice')
    at(1)
    await a.login('alice') // a remembers alice's two sessions
    at(2)
    const third = await b.login('alice') // b evicts the first: a's memory is stale
    at(3)
    const fourth = await a.call('/login', {
      method: 'POST',
      body: JSON.stringify({ userId: 'alice' }),
    })
    expect(fourth.status).toBe(200)
    const { evicted } = (await fourth.json()) as { evicted: string[] }
    expect(evicted).not.toContain(first.id) // already ended by b
    expect(evicted).not.toContain(third.id) // the most recent
    expect(await liveCount(db, 'alice')).toBe(2)
  })

  it('issue 21: a sign-in after the user logged out of every session here stores its session (the remembered sessions are gone)', async () => {
    // The two sign-ins a second apart, so their order by created_at is theirs.
    vi.useFakeTimers({ toFake: ['Date'] })
    at(0)
    const { login, call } = await testApp(db, { maxSessions: 3 })
    const first = await login('mallory')
    expect((await call('/session/logout', { method: 'POST', token: first.token })).status).toBe(204)
    at(1)
    const second = await login('mallory')
    expect((await call('/api/me', { token: second.token })).status).toBe(200)
    const rows = await db.sql<{ id: string; live: boolean }>(
      "select id, ended_at is null as live from sessionward_session where user_id = 'mallory' order by created_at",
    )
    expect(rows).toEqual([
      { id: first.id, live: false },
      { id: second.id, live: true },
    ])
  })

  it('issue 21: repeat sign-ins on one instance plan on the sessions the last one left: one statement each, never overtaken', async () => {
    const signIns = vi.spyOn(Store.prototype, 'signInUnderCap')
    const reads = vi.spyOn(Store.prototype, 'listLive')
    try {
      // Each sign-in at its own second: two in one millisecond tie on created_at and on activity,
      // and which of them is evicted (and their order below) would be the database's pick.
      vi.useFakeTimers({ toFake: ['Date'] })
      at(0)
      const { login } = await testApp(db, { maxSessions: 2 })
      const sessions = []
      for (let i = 0; i < 5; i++) {
        at(i)
        sessions.push(await login('carol'))
      }
      const states = await Promise.all(
        signIns.mock.results.map(async (result) => ((await result.value) as CappedOutcome).state),
      )
      // The first sign-in reads carol's sessions; every later one plans on what the last left.
      expect(reads).toHaveBeenCalledTimes(1)
      expect(states).toEqual(['done', 'done', 'done', 'done', 'done'])
      const rows = await db.sql<{ id: string; end_reason: string | null }>(
        "select id, end_reason from sessionward_session where user_id = 'carol' order by created_at",
      )
      expect(rows.map((row) => row.end_reason)).toEqual([
        'evicted',
        'evicted',
        'evicted',
        null,
        null,
      ])
      expect(rows.map((row) => row.id)).toEqual(sessions.map((session) => session.id))
    } finally {
      signIns.mockRestore()
      reads.mockRestore()
    }
  })

  it('maxSessions 0 means no cap', async () => {
    const { login } = await testApp(db)
    for (let i = 0; i < 10; i++) await login('alice')
    expect(await liveCount(db, 'alice')).toBe(10)
  })
})

/** createSession only reads headers from the context; this is the least a login request has. */
function fakeLoginContext() {
  return {
    req: { header: (name: string) => (name === 'user-agent' ? 'test-agent' : undefined) },
    env: undefined,
    header: () => undefined,
  } as never
}
