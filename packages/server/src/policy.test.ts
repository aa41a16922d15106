import { beforeEach, expect, it } from 'vitest'
import { testApp } from './test-support/app.ts'
import { at, START, useFakeClock } from './test-support/clock.ts'
import { activityWrites, onEachDatabase, type TestDatabase } from './test-support/db.ts'
import type { SessionPolicy } from './vocabulary.ts'

onEachDatabase((open) => {
  let db: TestDatabase
  // What the host's policy says per user; tests change it between requests.
  let overrides: Record<string, Partial<SessionPolicy>>
  const policy = (userId: string) => overrides[userId] ?? {}

  beforeEach(async () => {
    db = await open()
    overrides = {}
  })
  useFakeClock()

  it('warnAfter and expireAfter: the ping answers the user’s values', async () => {
    overrides.admin = { warnAfter: 100, expireAfter: 120 }
    const { login, call } = await testApp(db, { policy })
    const admin = await login('admin')
    const alice = await login('alice')
    const ping = (token: string) =>
      call('/session/ping', { method: 'POST', token, body: '{"idleFor":0}' }).then((r) => r.json())
    expect(await ping(admin.token)).toMatchObject({ warnAfter: 100, expireAfter: 120 })
    expect(await ping(alice.token)).toMatchObject({ warnAfter: 840, expireAfter: 900 })
  })

  it('expireAfter: a shorter idle limit ends the user’s session, at login and after a change', async () => {
    overrides.admin = { warnAfter: 50, expireAfter: 60 }
    const { login, call } = await testApp(db, { policy, cacheTtl: 0 })
    const admin = await login('admin')
    const alice = await login('alice')
    at(61)
    expect(await (await call('/api/poll', { token: admin.token })).json()).toMatchObject({
      reason: 'idle',
    })
    expect((await call('/api/me', { token: alice.token })).status).toBe(200)
    overrides.alice = { warnAfter: 10, expireAfter: 20 }
    at(61 + 21)
    expect(await (await call('/api/poll', { token: alice.token })).json()).toMatchObject({
      reason: 'idle',
    })
  })

  it('maxAge: sets the absolute end at login and a shortened one applies later', async () => {
    overrides.admin = { maxAge: 3600 }
    const { login, call } = await testApp(db, { policy, cacheTtl: 0 })
    const admin = await login('admin')
    const [row] = await db.sql<{ expires_at: Date }>(
      'select expires_at from sessionward_session where id = ?',
      [admin.id],
    )
    expect(new Date(String(row?.expires_at)).getTime()).toBe(START + 3600_000)
    const alice = await login('alice')
    at(600)
    expect((await call('/api/me', { token: alice.token })).status).toBe(200)
    overrides.alice = { maxAge: 600 }
    at(601)
    expect(await (await call('/api/me', { token: alice.token })).json()).toMatchObject({
      reason: 'absolute',
    })
    const ping = await call('/session/ping', {
      method: 'POST',
      token: admin.token,
      body: '{"idleFor":0}',
    })
    expect(await ping.json()).toMatchObject({ expiresIn: 3600 - 601 })
  })

  it('maxSessions: unlimited for admins, capped for others', async () => {
    overrides.admin = { maxSessions: 0 }
    const { login, call } = await testApp(db, { policy, maxSessions: 2, onLimit: 'deny' })
    for (let i = 0; i < 5; i++) await login('admin')
    await login('alice')
    await login('alice')
    const third = await call('/login', {
      method: 'POST',
      body: JSON.stringify({ userId: 'alice' }),
    })
    expect(third.status).toBe(403)
    expect(await third.json()).toMatchObject({ error: 'session_limit' })
  })

  it('onLimit: deny for one user, evict-oldest for another', async () => {
    overrides.bob = { onLimit: 'deny' }
    const { login, call } = await testApp(db, { policy, maxSessions: 1 })
    const first = await login('alice')
    const second = await call('/login', {
      method: 'POST',
      body: JSON.stringify({ userId: 'alice' }),
    })
    expect((await second.json()).evicted).toEqual([first.id])
    await login('bob')
    const denied = await call('/login', { method: 'POST', body: JSON.stringify({ userId: 'bob' }) })
    expect(denied.status).toBe(403)
  })

  it('an invalid policy answer fails loudly at login, naming the user', async () => {
    overrides.admin = { warnAfter: 900, expireAfter: 60 }
    const { ward } = await testApp(db, { policy })
    const c = { req: { header: () => undefined }, env: undefined, header: () => undefined }
    await expect(ward.createSession(c as never, 'admin')).rejects.toThrow(
      /policy\("admin"\)\.warnAfter \(900\) must be less than expireAfter \(60\)/,
    )
  })

  it('an unknown key in a policy answer fails loudly at login, naming the user and the key', async () => {
    overrides.admin = { expireAftr: 60 } as Partial<SessionPolicy>
    const { ward } = await testApp(db, { policy })
    const c = { req: { header: () => undefined }, env: undefined, header: () => undefined }
    await expect(ward.createSession(c as never, 'admin')).rejects.toThrow(
      'policy("admin"): unknown option "expireAftr" — did you mean "expireAfter"?',
    )
  })

  it('a policy that shortens expireAfter below touchInterval writes activity every quarter of it', async () => {
    overrides.admin = { warnAfter: 10, expireAfter: 20 }
    const { settled, login, call } = await testApp(db, { policy, touchInterval: 60 })
    const admin = await login('admin')
    const alice = await login('alice')
    db.queries.length = 0
    at(4)
    await call('/api/me', { token: admin.token })
    await call('/api/me', { token: alice.token })
    await settled()
    expect(activityWrites(db)).toBe(0)
    // 5 s = 20 / 4 for admin; alice keeps the ward's 60 s.
    at(5)
    await call('/api/me', { token: admin.token })
    await call('/api/me', { token: alice.token })
    await settled()
    expect(activityWrites(db)).toBe(1)
  })
})
