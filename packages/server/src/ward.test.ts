import { beforeEach, expect, it } from 'vitest'
import { CHROME_120, CHROME_121, FIREFOX_120, testApp } from './test-support/app.ts'
import { at, START, useFakeClock } from './test-support/clock.ts'
import { activityWrites, onEachDatabase, type TestDatabase } from './test-support/db.ts'

onEachDatabase((open) => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await open()
  })
  useFakeClock()

  it('stores only the SHA-256 of the token, never the token', async () => {
    const { login } = await testApp(db)
    const { token, id } = await login('alice')
    const rows = await db.sql<{ token_hash: string }>(
      'select * from sessionward_session where id = ?',
      [id],
    )
    expect(rows).toHaveLength(1)
    expect(token).toMatch(/^swt_[A-Za-z0-9_-]{43}$/)
    const stored = JSON.stringify(rows[0])
    expect(stored).not.toContain(token)
    expect(stored).not.toContain(token.slice(4))
    const { createHash } = await import('node:crypto')
    expect(rows[0]?.token_hash).toBe(createHash('sha256').update(token).digest('hex'))
  })

  it('ends a session idle past expireAfter with end_reason idle, once', async () => {
    const ends: string[] = []
    const { login, call } = await testApp(db, {
      warnAfter: 60,
      expireAfter: 120,
      hooks: { onSessionEnd: (_s, reason) => void ends.push(reason) },
    })
    const { token, id } = await login('alice')
    at(119)
    expect((await call('/api/me', { token })).status).toBe(200)
    at(119 + 120)
    const response = await call('/api/me', { token })
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"')
    expect(await response.json()).toMatchObject({ error: 'session_ended', reason: 'idle' })
    const again = await call('/api/me', { token })
    expect(await again.json()).toMatchObject({ error: 'session_ended', reason: 'idle' })
    const [row] = await db.sql<{ end_reason: string; ended_at: Date }>(
      'select end_reason, ended_at from sessionward_session where id = ?',
      [id],
    )
    expect(row?.end_reason).toBe('idle')
    expect(ends).toEqual(['idle'])
  })

  it('ends a session at maxAge with end_reason absolute, even while active', async () => {
    const { login, call } = await testApp(db, { warnAfter: 60, expireAfter: 120, maxAge: 300 })
    const { token, id } = await login('alice')
    for (let second = 100; second < 300; second += 100) {
      at(second)
      expect((await call('/api/me', { token })).status).toBe(200)
    }
    at(300)
    const response = await call('/api/me', { token })
    expect(await response.json()).toMatchObject({ error: 'session_ended', reason: 'absolute' })
    const [row] = await db.sql<{ end_reason: string }>(
      'select end_reason from sessionward_session where id = ?',
      [id],
    )
    expect(row?.end_reason).toBe('absolute')
  })

  it('a passive route does not extend the session; a non-passive one does', async () => {
    const { login, call } = await testApp(db, { warnAfter: 60, expireAfter: 120 })
    const passive = await login('alice')
    const active = await login('bob')
    for (let second = 30; second <= 90; second += 30) {
      at(second)
      expect((await call('/api/poll', { token: passive.token })).status).toBe(200)
      expect((await call('/api/me', { token: active.token })).status).toBe(200)
    }
    at(125)
    expect((await call('/api/poll', { token: passive.token })).status).toBe(401)
    expect((await call('/api/me', { token: active.token })).status).toBe(200)
  })

  it('/ping: a client that saw more recent activity moves last activity forward', async () => {
    const { settled, login, call } = await testApp(db, {
      warnAfter: 60,
      expireAfter: 120,
      touchInterval: 0,
    })
    const { token, id } = await login('alice')
    at(100)
    const response = await call('/session/ping', { method: 'POST', token, body: '{"idleFor":10}' })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({
      idleFor: 10,
      warnAfter: 60,
      expireAfter: 120,
      expiresIn: 43_200 - 100,
    })
    await settled()
    const [row] = await db.sql<{ last_activity_at: Date }>(
      'select last_activity_at from sessionward_session where id = ?',
      [id],
    )
    expect(new Date(row?.last_activity_at ?? 0).getTime()).toBe(START + 90_000)
    at(200)
    expect((await call('/api/poll', { token })).status).toBe(200)
  })

  it('/ping: a client with older activity never rewinds the server, and the ping is passive', async () => {
    const { login, call } = await testApp(db, { warnAfter: 60, expireAfter: 120, touchInterval: 0 })
    const { token } = await login('alice')
    at(50)
    expect((await call('/api/me', { token })).status).toBe(200)
    at(80)
    const response = await call('/session/ping', { method: 'POST', token, body: '{"idleFor":75}' })
    expect(await response.json()).toMatchObject({ idleFor: 30 })
    at(100)
    const second = await call('/session/ping', { method: 'POST', token, body: '{"idleFor":500}' })
    expect(await second.json()).toMatchObject({ idleFor: 50 })
    at(171)
    expect((await call('/api/poll', { token })).status).toBe(401)
  })

  it('20 requests inside one touchInterval cause at most 1 activity write', async () => {
    const { settled, login, call } = await testApp(db, { touchInterval: 60 })
    const { token } = await login('alice')
    db.queries.length = 0
    for (let i = 1; i <= 20; i++) {
      at(i)
      expect((await call('/api/me', { token })).status).toBe(200)
    }
    await settled()
    expect(activityWrites(db)).toBe(0)
    at(61)
    await Promise.all(Array.from({ length: 20 }, () => call('/api/me', { token })))
    await settled()
    expect(activityWrites(db)).toBe(1)
  })

  it('reads nothing from the database on a cache hit', async () => {
    const { login, call } = await testApp(db)
    const { token } = await login('alice')
    db.queries.length = 0
    for (let i = 0; i < 10; i++) expect((await call('/api/me', { token })).status).toBe(200)
    expect(db.queries).toEqual([])
  })

  it('user-agent binding `browser`: a version bump passes, another browser ends the session', async () => {
    const { login, call } = await testApp(db)
    const { token, id } = await login('alice', CHROME_120)
    expect((await call('/api/me', { token, userAgent: CHROME_121 })).status).toBe(200)
    const response = await call('/api/me', { token, userAgent: FIREFOX_120 })
    expect(await response.json()).toMatchObject({
      error: 'session_ended',
      reason: 'user_agent_changed',
    })
    const [row] = await db.sql<{ end_reason: string; detail: string }>(
      'select end_reason, detail from sessionward_session where id = ?',
      [id],
    )
    expect(row?.end_reason).toBe('user_agent_changed')
    expect(row?.detail).toContain('Firefox/120.0')
    expect((await call('/api/me', { token, userAgent: CHROME_120 })).status).toBe(401)
  })

  it('user-agent binding `strict` refuses a version bump; `off` accepts anything', async () => {
    const strict = await testApp(db, { userAgentBinding: 'strict' })
    const a = await strict.login('alice', CHROME_120)
    expect((await strict.call('/api/me', { token: a.token, userAgent: CHROME_121 })).status).toBe(
      401,
    )
    const off = await testApp(db, { userAgentBinding: 'off' })
    const b = await off.login('bob', CHROME_120)
    expect((await off.call('/api/me', { token: b.token, userAgent: FIREFOX_120 })).status).toBe(200)
  })

  it('lists only the caller’s live sessions, marking the current one', async () => {
    const { login, call } = await testApp(db)
    const first = await login('alice', CHROME_120)
    const second = await login('alice', FIREFOX_120)
    await login('bob')
    const response = await call('/session/sessions', {
      token: second.token,
      userAgent: FIREFOX_120,
    })
    expect(response.status).toBe(200)
    const { sessions } = await response.json()
    expect(sessions.map((s: { id: string }) => s.id).sort()).toEqual([first.id, second.id].sort())
    const current = sessions.find((s: { current: boolean }) => s.current)
    expect(current.id).toBe(second.id)
    expect(current.userAgent).toMatchObject({
      browser: 'Firefox',
      os: 'Windows',
      device: 'desktop',
    })
    expect(JSON.stringify(sessions)).not.toMatch(/token|swt_/i)
  })

  it('revokes only the caller’s own sessions; another user’s id answers 404', async () => {
    const { login, call } = await testApp(db)
    const alice = await login('alice')
    const alice2 = await login('alice')
    const bob = await login('bob')
    const foreign = await call(`/session/sessions/${bob.id}`, {
      method: 'DELETE',
      token: alice.token,
    })
    expect(foreign.status).toBe(404)
    const foreignBody = await foreign.json()
    expect(foreignBody).toMatchObject({ error: 'not_found' })
    expect((await call('/api/me', { token: bob.token })).status).toBe(200)
    const unknown = await call('/session/sessions/00000000-0000-4000-8000-000000000000', {
      method: 'DELETE',
      token: alice.token,
    })
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toEqual(foreignBody)
    const own = await call(`/session/sessions/${alice2.id}`, {
      method: 'DELETE',
      token: alice.token,
    })
    expect(own.status).toBe(204)
    const revoked = await call('/api/me', { token: alice2.token })
    expect(await revoked.json()).toMatchObject({ error: 'session_ended', reason: 'revoked' })
  })

  it('DELETE /sessions?others=true ends the others; without it ends all, only the caller’s', async () => {
    const { login, call } = await testApp(db)
    const a1 = await login('alice')
    const a2 = await login('alice')
    const a3 = await login('alice')
    const bob = await login('bob')
    const others = await call('/session/sessions?others=true', {
      method: 'DELETE',
      token: a1.token,
    })
    expect(await others.json()).toEqual({ ended: 2 })
    expect((await call('/api/me', { token: a1.token })).status).toBe(200)
    expect((await call('/api/me', { token: a2.token })).status).toBe(401)
    expect((await call('/api/me', { token: a3.token })).status).toBe(401)
    const all = await call('/session/sessions', { method: 'DELETE', token: a1.token })
    expect(await all.json()).toEqual({ ended: 1 })
    expect((await call('/api/me', { token: a1.token })).status).toBe(401)
    expect((await call('/api/me', { token: bob.token })).status).toBe(200)
  })

  it('logout ends the session with end_reason logout and answers 204', async () => {
    const { login, call } = await testApp(db)
    const { token, id } = await login('alice')
    expect((await call('/session/logout', { method: 'POST', token })).status).toBe(204)
    const [row] = await db.sql<{ end_reason: string }>(
      'select end_reason from sessionward_session where id = ?',
      [id],
    )
    expect(row?.end_reason).toBe('logout')
    expect((await call('/api/me', { token })).status).toBe(401)
  })

  it('accepts `Authorization: Token <token>` (DRF style)', async () => {
    const { login, call } = await testApp(db)
    const { token } = await login('alice')
    const response = await call('/api/me', { headers: { authorization: `Token ${token}` } })
    expect(await response.json()).toEqual({ userId: 'alice' })
  })
})
