import { afterEach, beforeEach, expect, it, vi } from 'vitest'
import { type TestApp, testApp } from './test-support/app.ts'
import { at, START } from './test-support/clock.ts'
import { onEachDatabase, type TestDatabase } from './test-support/db.ts'
import { EventReader } from './test-support/sse.ts'
import type { SessionPolicy } from './vocabulary.ts'

// GET /session/events on one instance, without Redis: the browser hears of an end at once.
onEachDatabase((open) => {
  let db: TestDatabase
  let t: TestApp
  let thresholds: Partial<SessionPolicy>
  const readers: EventReader[] = []

  beforeEach(async () => {
    db = await open()
    thresholds = { warnAfter: 240, expireAfter: 300 }
    // cacheTtl 0: every request re-reads the row and the policy, so a policy change shows.
    t = await testApp(db, { cacheTtl: 0, policy: () => thresholds })
  })
  afterEach(async () => {
    for (const reader of readers.splice(0)) await reader.cancel()
    await t.settled()
  })

  async function listen(token: string): Promise<{ response: Response; events: EventReader }> {
    const response = await t.call('/session/events', { token })
    const events = new EventReader(response)
    readers.push(events)
    return { response, events }
  }

  it('opens with the session’s thresholds, uncached and unbuffered', async () => {
    const { token } = await t.login('alice')
    const { response, events } = await listen(token)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream')
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(response.headers.get('x-accel-buffering')).toBe('no')
    expect(await events.next()).toEqual({
      event: 'policy',
      data: JSON.stringify({ warnAfter: 240, expireAfter: 300 }),
    })
  })

  it.each([
    ['logout', (t: TestApp, token: string) => t.call('/session/logout', { method: 'POST', token })],
    [
      'revoked',
      async (t: TestApp, _token: string, id: string) => {
        const other = await t.login('alice')
        return t.call(`/session/sessions/${id}`, { method: 'DELETE', token: other.token })
      },
    ],
    ['admin', (t: TestApp, _token: string, id: string) => t.ward.endSession(id, 'admin')],
  ] as const)('sends ended (%s) the moment the session ends, then closes', async (reason, end) => {
    const { token, id } = await t.login('alice')
    const { events } = await listen(token)
    expect((await events.next())?.event).toBe('policy')
    await end(t, token, id)
    expect(await events.next()).toEqual({ event: 'ended', data: JSON.stringify({ reason }) })
    expect(await events.next()).toBeNull()
  })

  it('sends the new thresholds when a re-read gives the session another policy', async () => {
    const { token } = await t.login('alice')
    const { events } = await listen(token)
    await events.next()
    thresholds = { warnAfter: 50, expireAfter: 60 }
    expect((await t.call('/api/me', { token })).status).toBe(200)
    expect(await events.next()).toEqual({
      event: 'policy',
      data: JSON.stringify({ warnAfter: 50, expireAfter: 60 }),
    })
  })

  it('is passive: an open stream records no activity', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      at(0)
      const { token } = await t.login('alice')
      at(30)
      const { events } = await listen(token)
      await events.next()
      at(60)
      // The list answers before its own request counts: still the login's activity.
      const listed = await t.call('/session/sessions', { token })
      const { sessions } = (await listed.json()) as { sessions: { lastActivityAt: string }[] }
      expect(sessions[0]?.lastActivityAt).toBe(new Date(START).toISOString())
    } finally {
      vi.useRealTimers()
    }
  })

  it('answers 401 JSON without a live session, like every other route', async () => {
    const response = await t.call('/session/events')
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: 'unauthenticated' })
    const { token } = await t.login('alice')
    await t.call('/session/logout', { method: 'POST', token })
    const ended = await t.call('/session/events', { token })
    expect(ended.status).toBe(401)
    expect(await ended.json()).toMatchObject({ error: 'session_ended', reason: 'logout' })
  })

  it('ends every stream when the ward closes, without an end reason', async () => {
    const { token } = await t.login('alice')
    const { events } = await listen(token)
    await events.next()
    await t.settled()
    expect(await events.next()).toBeNull()
  })
})
