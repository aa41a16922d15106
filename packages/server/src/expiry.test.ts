import { beforeEach, expect, it } from 'vitest'
import { testApp } from './test-support/app.ts'
import { at, useFakeClock } from './test-support/clock.ts'
import { onEachDatabase, refuseActivityWrites, type TestDatabase } from './test-support/db.ts'

const DAY = 86_400

async function endReason(db: TestDatabase, id: string): Promise<string | null> {
  const [row] = await db.sql<{ end_reason: string | null }>(
    'select end_reason from sessionward_session where id = ?',
    [id],
  )
  return row?.end_reason ?? null
}

onEachDatabase((open) => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await open()
  })
  useFakeClock()

  it('defect 1: with maxSessions 1 and deny, signing in a day after abandoning a tab works', async () => {
    const { login, call } = await testApp(db, { maxSessions: 1, onLimit: 'deny' })
    const abandoned = await login('alice')
    at(DAY)
    const again = await call('/login', {
      method: 'POST',
      body: JSON.stringify({ userId: 'alice' }),
    })
    expect(again.status).toBe(200)
    expect(await endReason(db, abandoned.id)).toBe('absolute')
  })

  it('defect 1: evict-oldest ends an abandoned session as idle, not evicted', async () => {
    const ends: string[] = []
    const { login, call } = await testApp(db, {
      maxSessions: 1,
      hooks: { onSessionEnd: (session, reason) => void ends.push(`${session.id}:${reason}`) },
    })
    const abandoned = await login('alice')
    at(3600) // an hour later: idle (expireAfter 15 min), well within maxAge
    const again = await call('/login', {
      method: 'POST',
      body: JSON.stringify({ userId: 'alice' }),
    })
    expect(await again.json()).toMatchObject({ evicted: [] })
    expect(await endReason(db, abandoned.id)).toBe('idle')
    expect(ends).toEqual([`${abandoned.id}:idle`])
  })

  it('defect 1: the devices list and the admin live filter leave out expired sessions', async () => {
    const { ward, app, login, call } = await testApp(db)
    app.route('/admin/sessions', ward.adminRoutes({ authorize: () => true }))
    const abandoned = await login('alice')
    at(3600)
    const current = await login('alice')
    const devices = await call('/session/sessions', { token: current.token })
    const listed = (await devices.json()) as { sessions: { id: string }[] }
    expect(listed.sessions.map((s) => s.id)).toEqual([current.id])
    const admin = await call('/admin/sessions?live=true', {
      token: current.token,
      headers: { accept: 'application/json' },
    })
    const live = (await admin.json()) as { sessions: { id: string }[] }
    expect(live.sessions.map((s) => s.id)).toEqual([current.id])
    expect(live.sessions.map((s) => s.id)).not.toContain(abandoned.id)
  })

  it('defect 1: the sweep ends expired sessions with their reason and hooks, and spares the rest', async () => {
    const ends: string[] = []
    const logger = { info: () => {}, warn: () => {}, error: () => {} }
    const { ward, login, call } = await testApp(db, {
      logger,
      hooks: { onSessionEnd: (session, reason) => void ends.push(`${session.id}:${reason}`) },
    })
    const idle = await login('alice')
    const recent = await login('bob')
    const cachedOnly = await login('carol')
    const margin = await login('dave')
    at(70) // dave's last write: idle 930 s at the sweep, but another instance may have seen more
    expect((await call('/api/me', { token: margin.token })).status).toBe(200)
    at(500)
    expect((await call('/api/me', { token: recent.token })).status).toBe(200)
    // Carol is seen on this instance, but her row is not written: only the cache knows.
    await refuseActivityWrites(db, async () => {
      for (const second of [500, 900]) {
        at(second)
        expect((await call('/api/me', { token: cachedOnly.token })).status).toBe(200)
      }
    })
    at(1000) // alice: idle 1,000 s, past expireAfter (900) plus one write interval (60)
    expect(await ward.sweep()).toBe(1)
    expect(ends).toEqual([`${idle.id}:idle`])
    expect(await endReason(db, idle.id)).toBe('idle')
    for (const spared of [recent, cachedOnly, margin])
      expect(await endReason(db, spared.id)).toBeNull()
    at(DAY)
    expect(await ward.sweep()).toBe(3)
    expect(ends.slice(1).sort()).toEqual(
      [recent, cachedOnly, margin].map((session) => `${session.id}:absolute`).sort(),
    )
    await ward.close()
  })
})
