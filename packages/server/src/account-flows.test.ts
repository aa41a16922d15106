import { randomBytes } from 'node:crypto'
import { beforeEach, describe, expect, it } from 'vitest'
import { FIREFOX_120, type TestApp, testApp } from './test-support/app.ts'
import { at, useFakeClock } from './test-support/clock.ts'
import { onEachDatabase, type TestDatabase } from './test-support/db.ts'
import type { EndReason } from './vocabulary.ts'

// The account flows of OWASP ASVS 5.0 7.4.2 (end every session when an account is disabled)
// and 7.4.3 (offer to end the other sessions after a password change), through the ward's API.

async function status(app: TestApp, token: string, userAgent?: string) {
  const response = await app.call('/api/me', { token, userAgent })
  return { status: response.status, body: await response.json() }
}

onEachDatabase((open) => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await open()
  })
  useFakeClock()

  it('password change: endSessions with except ends every other session of the user, hooks fire', async () => {
    const ends: [string, EndReason][] = []
    const app = await testApp(db, {
      hooks: { onSessionEnd: (session, reason) => void ends.push([session.id, reason]) },
    })
    const here = await app.login('alice')
    const phone = await app.login('alice', FIREFOX_120)
    const laptop = await app.login('alice')
    const bob = await app.login('bob')
    // Seen once, so this instance's cache holds them: the end must drop them from it.
    for (const { token } of [here, laptop, bob]) expect((await status(app, token)).status).toBe(200)

    expect(await app.ward.endSessions('alice', { except: here.id })).toBe(2)

    expect((await status(app, here.token)).status).toBe(200)
    for (const [token, userAgent] of [
      [phone.token, FIREFOX_120],
      [laptop.token, undefined],
    ] as const) {
      expect(await status(app, token, userAgent)).toEqual({
        status: 401,
        body: expect.objectContaining({ error: 'session_ended', reason: 'revoked' }),
      })
    }
    expect((await status(app, bob.token)).status).toBe(200)
    expect(ends.sort()).toEqual(
      [
        [phone.id, 'revoked'],
        [laptop.id, 'revoked'],
      ].sort(),
    )
    expect(await app.ward.endSessions('alice', { except: here.id })).toBe(0)
  })

  it('account disabled: endSessions ends all, and every token of the user answers 401 session_ended at once', async () => {
    const app = await testApp(db, { jwt: { secret: randomBytes(32).toString('base64url') } })
    const sessions = [await app.login('alice'), await app.login('alice'), await app.login('alice')]
    const tokens = sessions.map((session) => session.token)
    const first = tokens[0] ?? ''
    const issued = await app.call('/session/token', { method: 'POST', token: first })
    const { access } = (await issued.json()) as { access: string }
    for (const token of [...tokens, access]) expect((await status(app, token)).status).toBe(200)

    expect(await app.ward.endSessions('alice', { reason: 'admin' })).toBe(3)

    // Same instant, same instance: nothing waits for cacheTtl.
    for (const token of [...tokens, access]) {
      expect(await status(app, token)).toEqual({
        status: 401,
        body: expect.objectContaining({ error: 'session_ended', reason: 'admin' }),
      })
    }
    const [row] = await db.sql<{ n: number }>(
      'select count(*)::int as n from sessionward_session where user_id = ? and ended_at is null',
      ['alice'],
    )
    expect(row?.n).toBe(0)
    expect((await app.ward.listSessions('alice')).sessions).toEqual([])
  })

  it('listSessions leaves out expired sessions and other users’, with fresh activity and no hash', async () => {
    const app = await testApp(db)
    const abandoned = await app.login('alice')
    at(3600) // an hour later: the first tab is idle (expireAfter 15 min), not yet swept
    const older = await app.login('alice')
    at(3601)
    const newer = await app.login('alice', FIREFOX_120)
    await app.login('bob')
    at(3630)
    expect((await status(app, older.token)).status).toBe(200) // cached, not yet written

    const { sessions, nextCursor } = await app.ward.listSessions('alice')
    expect(sessions.map((session) => session.id)).toEqual([newer.id, older.id])
    expect(sessions.map((session) => session.id)).not.toContain(abandoned.id)
    expect(nextCursor).toBeNull()
    expect(sessions[1]?.lastActivityAt).toEqual(new Date(Date.now()))
    expect(sessions[0]).not.toHaveProperty('tokenHash')
    expect(JSON.stringify(sessions)).not.toMatch(/swt_|[0-9a-f]{64}/i)

    const firstPage = await app.ward.listSessions('alice', { limit: 1 })
    expect(firstPage.sessions.map((session) => session.id)).toEqual([newer.id])
    const secondPage = await app.ward.listSessions('alice', {
      limit: 1,
      cursor: firstPage.nextCursor ?? '',
    })
    expect(secondPage).toMatchObject({ sessions: [{ id: older.id }], nextCursor: null })
  })

  describe('arguments', () => {
    it('listSessions and endSessions refuse bad arguments with a TypeError that says what to pass', async () => {
      const { ward } = await testApp(db)
      const list = ward.listSessions as (userId: unknown, options?: unknown) => Promise<unknown>
      const end = ward.endSessions as (userId: unknown, options?: unknown) => Promise<unknown>
      const cases: [() => Promise<unknown>, RegExp][] = [
        [() => list(''), /listSessions needs a userId string of 1 to 255 characters/],
        [() => list(42), /listSessions needs a userId string/],
        [() => list('a'.repeat(256)), /listSessions needs a userId string/],
        [() => list('alice', null), /listSessions options must be an object/],
        [() => list('alice', { limit: 0 }), /limit must be a whole number from 1 to 100/],
        [() => list('alice', { limit: 101 }), /limit must be a whole number from 1 to 100/],
        [() => list('alice', { limit: 1.5 }), /limit must be a whole number from 1 to 100/],
        [() => list('alice', { limit: '10' }), /limit must be a whole number from 1 to 100/],
        [() => list('alice', { cursor: 'garbage' }), /cursor must be a nextCursor it returned/],
        [() => list('alice', { cursor: 7 }), /cursor must be a nextCursor it returned/],
        [() => list('alice', { page: 2 }), /listSessions has no option "page"; use limit, cursor/],
        [() => end(undefined), /endSessions needs a userId string/],
        [() => end('alice', { except: 'not-a-uuid' }), /except must be a session id \(a UUID\)/],
        [() => end('alice', { reason: 'logout' }), /reason must be 'revoked' or 'admin'/],
        [() => end('alice', { keep: 'x' }), /endSessions has no option "keep"; use except, reason/],
      ]
      for (const [call, message] of cases) {
        await expect(call()).rejects.toThrow(message)
        await expect(call()).rejects.toBeInstanceOf(TypeError)
      }
    })
  })
})
