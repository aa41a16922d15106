import { beforeEach, describe, expect, it } from 'vitest'
import { testApp } from './test-support/app.ts'
import { at, START, useFakeClock } from './test-support/clock.ts'
import { onEachDatabase, type TestDatabase } from './test-support/db.ts'

interface Page {
  sessions: { id: string; current: boolean; endedAt?: string }[]
  nextCursor: string | null
}

/**
 * `count` live sessions of `userId` in one multi-row insert, logged in over the last `count`
 * seconds before now, ten to a second (so the sort key has ties for the id to break).
 */
async function insertLive(db: TestDatabase, userId: string, count: number): Promise<void> {
  const now = new Date(Date.now())
  await db.sql(
    `insert into sessionward_session
       (id, user_id, token_hash, created_at, last_activity_at, expires_at, ip, last_ip, user_agent)
     select gen_random_uuid(), ?, 'seeded-' || ? || '-' || n,
            ?::timestamptz - (n / 10 + 1) * interval '1 second', ?::timestamptz,
            ?::timestamptz + interval '12 hours', '203.0.113.9', '203.0.113.9', 'seeded'
       from generate_series(1, ?) as n`,
    [userId, userId, now, now, now, count],
  )
}

/** Follows nextCursor from the first page to the last; every page answered 200. */
async function everyPage(
  call: (path: string) => Promise<Response>,
  path: string,
): Promise<{ pages: Page[]; ids: string[] }> {
  const pages: Page[] = []
  let cursor: string | null = null
  do {
    const response = await call(cursor ? `${path}&cursor=${cursor}` : path)
    expect(response.status).toBe(200)
    const page = (await response.json()) as Page
    pages.push(page)
    cursor = page.nextCursor
  } while (cursor)
  return { pages, ids: pages.flatMap((page) => page.sessions.map((session) => session.id)) }
}

onEachDatabase((open) => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await open()
  })
  useFakeClock()

  it('defect 8: a user with 10,001 live sessions gets the devices list in pages, each session exactly once', async () => {
    const { login, call } = await testApp(db)
    const current = await login('alice')
    await insertLive(db, 'alice', 10_001)
    await insertLive(db, 'bob', 3)
    const get = (path: string) => call(path, { token: current.token })

    const first = await get('/session/sessions')
    expect(first.status).toBe(200)
    expect(first.headers.get('cache-control')).toBe('no-store')
    const firstPage = (await first.json()) as Page
    expect(firstPage.sessions.length).toBeLessThanOrEqual(50)
    expect(firstPage.nextCursor).toEqual(expect.any(String))
    // Newest login first: the current session opens the first page, marked.
    expect(firstPage.sessions[0]).toMatchObject({ id: current.id, current: true })

    const { pages, ids } = await everyPage(get, '/session/sessions?limit=100')
    expect(pages.every((page) => page.sessions.length <= 100)).toBe(true)
    expect(ids).toHaveLength(10_002)
    expect(new Set(ids).size).toBe(10_002)
    const stored = await db.sql<{ id: string }>(
      'select id from sessionward_session where user_id = ?',
      ['alice'],
    )
    expect(new Set(ids)).toEqual(new Set(stored.map((row) => row.id)))
    expect(pages.flatMap((page) => page.sessions).filter((s) => s.current)).toEqual([
      expect.objectContaining({ id: current.id }),
    ])

    for (const cursor of ['garbage', 'WyJ4Il0', '%00', 'a'.repeat(300)]) {
      const bad = await get(`/session/sessions?cursor=${cursor}`)
      expect(bad.status, cursor).toBe(400)
      expect(await bad.json()).toMatchObject({ error: 'invalid_request' })
    }
  })

  it('defect 8: the history is paged too, newest end first, each ended session exactly once', async () => {
    const { login, call } = await testApp(db, { logLimit: null })
    const current = await login('alice')
    await insertLive(db, 'alice', 250)
    // Three ends at three instants, so many rows share one ended_at: the id breaks the ties.
    for (const [second, limit] of [
      [10, 100],
      [20, 100],
      [30, 50],
    ] as const) {
      at(second)
      await db.sql(
        `update sessionward_session set ended_at = ?, end_reason = 'revoked'
          where id in (select id from sessionward_session
                        where user_id = 'alice' and ended_at is null and id <> ? limit ?)`,
        [new Date(START + second * 1000), current.id, limit],
      )
    }
    const get = (path: string) => call(path, { token: current.token })
    const first = (await (await get('/session/history')).json()) as Page
    expect(first.sessions).toHaveLength(20)
    const { pages, ids } = await everyPage(get, '/session/history?limit=100')
    expect(pages.map((page) => page.sessions.length)).toEqual([100, 100, 50])
    expect(new Set(ids).size).toBe(250)
    const endedAt = pages.flatMap((page) => page.sessions.map((session) => session.endedAt))
    expect(endedAt).toEqual([...endedAt].sort().reverse())
    const bad = await get('/session/history?cursor=garbage')
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ error: 'invalid_request' })
  })

  describe('limit', () => {
    it('a bad limit on either list answers 400 invalid_request', async () => {
      const { login, call } = await testApp(db)
      const { token } = await login('alice')
      for (const path of ['/session/sessions', '/session/history']) {
        for (const limit of ['0', '101', '-1', 'abc', '1.5', '1e2', '']) {
          const response = await call(`${path}?limit=${limit}`, { token })
          expect(response.status, `${path}?limit=${limit}`).toBe(400)
          expect(await response.json()).toMatchObject({ error: 'invalid_request' })
        }
      }
    })
  })
})
