import { randomUUID } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { decodeCursor, encodeCursor } from '../paging.ts'
import { Store } from '../store.ts'
import { CHROME_120, type TestApp, testApp } from '../test-support/app.ts'
import { onEachDatabase, type TestDatabase } from '../test-support/db.ts'
import { parseListQuery } from './filters.ts'

const START = Date.parse('2026-11-23T09:00:00Z')
const JSON_ACCEPT = { accept: 'application/json' }
const HTML_ACCEPT = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' }

interface AdminApp extends TestApp {
  ends: string[]
  adminToken: string
}

async function adminApp(db: TestDatabase, authorize?: () => boolean): Promise<AdminApp> {
  const ends: string[] = []
  const app = await testApp(db, { hooks: { onSessionEnd: (_s, reason) => void ends.push(reason) } })
  app.app.route(
    '/admin/sessions',
    app.ward.adminRoutes({
      authorize: authorize ?? ((c) => c.var.session?.userId === 'admin'),
    }),
  )
  const { token } = await app.login('admin')
  return { ...app, ends, adminToken: token }
}

/** Inserts a session row as it would be stored (token hash random), at a chosen time. */
async function insertRow(
  db: TestDatabase,
  row: { userId: string; createdAt: string; endedAt?: string; endReason?: string; id?: string },
): Promise<string> {
  const id = row.id ?? randomUUID()
  await db.sql(
    `insert into sessionward_session (id, user_id, token_hash, created_at, last_activity_at, expires_at, ended_at, end_reason, user_agent)
     values (?, ?, ?, ?::timestamptz, ?::timestamptz, ?::timestamptz + interval '12 hours', ?::timestamptz, ?, ?)`,
    [
      id,
      row.userId,
      randomUUID() + randomUUID(),
      row.createdAt,
      row.createdAt,
      row.createdAt,
      row.endedAt ?? null,
      row.endReason ?? null,
      CHROME_120,
    ],
  )
  return id
}

interface ListBody {
  sessions: Array<Record<string, unknown> & { id: string; userId: string; live: boolean }>
  nextCursor: string | null
}

onEachDatabase((open) => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await open()
    await db.reset()
  })

  describe('authorization', () => {
    const routes = (id: string) => [
      ['GET', '/admin/sessions'],
      ['GET', '/admin/sessions?user=alice&live=true'],
      ['GET', `/admin/sessions/${id}`],
      ['GET', '/admin/sessions/admin.css'],
      ['DELETE', `/admin/sessions/${id}`],
      ['DELETE', '/admin/sessions?user=alice'],
      ['POST', `/admin/sessions/${id}/end`],
      ['POST', '/admin/sessions/end?user=alice'],
      ['GET', '/admin/sessions/no-such-page'],
    ]

    it('every admin route refuses an anonymous caller (401) and a non-admin (403)', async () => {
      const app = await adminApp(db)
      const alice = await app.login('alice')
      for (const [method, path] of routes(alice.id)) {
        const anonymous = await app.call(path as string, { method, headers: JSON_ACCEPT })
        expect([method, path, anonymous.status]).toEqual([method, path, 401])
        expect(await anonymous.json()).toMatchObject({ error: 'unauthenticated' })
        expect(anonymous.headers.get('www-authenticate')).toContain('Bearer')

        const user = await app.call(path as string, {
          method,
          token: alice.token,
          headers: JSON_ACCEPT,
        })
        expect([method, path, user.status]).toEqual([method, path, 403])
        expect(await user.json()).toMatchObject({ error: 'forbidden' })

        const page = await app.call(path as string, {
          method,
          token: alice.token,
          headers: HTML_ACCEPT,
        })
        expect(page.status).toBe(403)
        expect(page.headers.get('content-type')).toContain('text/html')
        expect(await page.text()).toContain('data-error="forbidden"')
      }
      // Nothing was ended by all those refused requests.
      expect(app.ends).toEqual([])
      const [row] = await db.sql<{ n: number }>(
        'select count(*)::int as n from sessionward_session where ended_at is null',
      )
      expect(row?.n).toBe(2)
    })

    it('a dead session, a throwing authorize and a cross-origin cookie post are refused', async () => {
      const app = await adminApp(db)
      await app.call('/session/logout', { method: 'POST', token: app.adminToken })
      const ended = await app.call('/admin/sessions', {
        token: app.adminToken,
        headers: JSON_ACCEPT,
      })
      expect(ended.status).toBe(401)
      expect(await ended.json()).toMatchObject({ error: 'session_ended', reason: 'logout' })

      const throwing = await adminApp(db, () => {
        throw new Error('directory down')
      })
      const errors = vi.spyOn(console, 'error').mockImplementation(() => {})
      const refused = await throwing.call('/admin/sessions', {
        token: throwing.adminToken,
        headers: JSON_ACCEPT,
      })
      errors.mockRestore()
      expect(refused.status).toBe(403)

      const target = await app.login('alice')
      const admin = await app.login('admin')
      const csrf = await app.app.request(`http://localhost/admin/sessions/${target.id}/end`, {
        method: 'POST',
        headers: {
          'user-agent': CHROME_120,
          cookie: `__Host-sessionward=${admin.token}`,
          origin: 'https://evil.example',
          ...HTML_ACCEPT,
        },
      })
      expect(csrf.status).toBe(403)
      expect((await app.call('/api/me', { token: target.token })).status).toBe(200)
    })
  })

  describe('listing', () => {
    it('lists sessions as JSON without any token or hash, newest first', async () => {
      const app = await adminApp(db)
      const alice = await app.login('alice')
      const response = await app.call('/admin/sessions', {
        token: app.adminToken,
        headers: JSON_ACCEPT,
      })
      expect(response.status).toBe(200)
      expect(response.headers.get('cache-control')).toBe('no-store')
      const body = (await response.json()) as ListBody
      expect(body.nextCursor).toBeNull()
      expect(body.sessions.map((s) => s.userId).sort()).toEqual(['admin', 'alice'])
      const aliceRow = body.sessions.find((s) => s.userId === 'alice')
      expect(Object.keys(aliceRow ?? {}).sort()).toEqual(
        [
          'createdAt',
          'detail',
          'endReason',
          'endedAt',
          'expiresAt',
          'id',
          'idp',
          'ip',
          'lastActivityAt',
          'lastIp',
          'live',
          'userAgent',
          'userId',
        ].sort(),
      )
      expect(aliceRow).toMatchObject({ id: alice.id, live: true, endedAt: null, idp: null })
      const hashes = await db.sql<{ token_hash: string }>(
        'select token_hash from sessionward_session',
      )
      const page = await (
        await app.call('/admin/sessions', { token: app.adminToken, headers: HTML_ACCEPT })
      ).text()
      const detail = await (
        await app.call(`/admin/sessions/${alice.id}`, {
          token: app.adminToken,
          headers: HTML_ACCEPT,
        })
      ).text()
      for (const text of [JSON.stringify(body), page, detail]) {
        for (const secret of [alice.token, app.adminToken, ...hashes.map((h) => h.token_hash)]) {
          expect(text).not.toContain(secret)
        }
      }
    })

    it('filters by user, live, reason and date ranges', async () => {
      const app = await adminApp(db)
      const live = await insertRow(db, { userId: 'bob', createdAt: '2026-11-20T10:00:00Z' })
      // Still in use: a session idle for days is not live (issue 11, defect 1).
      await db.sql(
        'update sessionward_session set last_activity_at = ?, expires_at = ? where id = ?',
        [new Date(Date.now()), new Date(Date.now() + 3_600_000), live],
      )
      await insertRow(db, {
        userId: 'bob',
        createdAt: '2026-11-21T10:00:00Z',
        endedAt: '2026-11-21T11:00:00Z',
        endReason: 'idle',
      })
      await insertRow(db, {
        userId: 'carol',
        createdAt: '2026-11-22T10:00:00Z',
        endedAt: '2026-11-22T12:00:00Z',
        endReason: 'logout',
      })
      const list = async (query: string) => {
        const response = await app.call(`/admin/sessions?${query}`, {
          token: app.adminToken,
          headers: JSON_ACCEPT,
        })
        expect(response.status).toBe(200)
        return ((await response.json()) as ListBody).sessions.map(
          (s) => `${s.userId}:${s.live ? 'live' : s.endReason}`,
        )
      }
      expect(await list('user=bob')).toEqual(['bob:idle', 'bob:live'])
      expect(await list('user=bob&live=true')).toEqual(['bob:live'])
      expect(await list('live=false')).toEqual(['carol:logout', 'bob:idle'])
      expect(await list('reason=logout')).toEqual(['carol:logout'])
      expect(await list('createdAfter=2026-11-21&createdBefore=2026-11-22T10:00:00Z')).toEqual([
        'bob:idle',
      ])
      expect(await list('endedAfter=2026-11-22T11:59&endedBefore=2026-11-23')).toEqual([
        'carol:logout',
      ])
      // An HTML form sends empty fields: they mean "any".
      expect(
        await list('user=&live=&reason=&createdAfter=&createdBefore=&endedAfter=&endedBefore='),
      ).toHaveLength(4)
    })

    it('answers 400 invalid_request for bad query values', async () => {
      const app = await adminApp(db)
      for (const query of [
        'live=yes',
        'reason=bored',
        'createdAfter=yesterday',
        'endedBefore=2026-13-45',
        'cursor=garbage!',
        `cursor=${Buffer.from('["1", "x"]').toString('base64url')}`,
        'limit=0',
        'limit=1000',
        'users=alice',
        `user=${'x'.repeat(256)}`,
      ]) {
        const response = await app.call(`/admin/sessions?${query}`, {
          token: app.adminToken,
          headers: HTML_ACCEPT,
        })
        expect([query, response.status]).toEqual([query, 400])
        expect(await response.json()).toMatchObject({ error: 'invalid_request' })
      }
    })

    it('cursor pagination returns each row exactly once while rows are being inserted', async () => {
      const app = await adminApp(db)
      const expected: string[] = []
      // Ties on created_at (same millisecond, same microsecond) are broken by id.
      for (let i = 0; i < 30; i++) {
        const second = String(Math.floor(i / 3)).padStart(2, '0')
        const micros = i % 3 === 2 ? '.000001' : ''
        expected.push(
          await insertRow(db, {
            userId: `u${i % 4}`,
            createdAt: `2020-01-02T10:00:${second}${micros}Z`,
          }),
        )
      }
      const older: string[] = []
      const seen: string[] = []
      let cursor: string | null = null
      let pages = 0
      do {
        const query: string = cursor ? `?limit=7&cursor=${cursor}` : '?limit=7'
        const response = await app.call(`/admin/sessions${query}`, {
          token: app.adminToken,
          headers: JSON_ACCEPT,
        })
        const body = (await response.json()) as ListBody
        seen.push(...body.sessions.map((s) => s.id))
        cursor = body.nextCursor
        pages++
        // Meanwhile new logins arrive (newer than the cursor: never shown on later pages) and
        // rows older than everything land (ahead of the cursor: each shown once, at the end).
        await app.login(`new-${pages}`)
        older.push(await insertRow(db, { userId: 'old', createdAt: `2020-01-01T0${pages}:00:00Z` }))
      } while (cursor && pages < 20)
      expect(new Set(seen).size).toBe(seen.length)
      const others = seen.filter((id) => !expected.includes(id) && !older.includes(id))
      // Page one also held the admin's own session; none of the later logins ever showed.
      expect(others).toHaveLength(1)
      expect(seen.filter((id) => expected.includes(id)).sort()).toEqual([...expected].sort())
      // Every older row inserted before the last page was fetched is on it.
      expect(seen.filter((id) => older.includes(id)).sort()).toEqual(older.slice(0, -1).sort())
      const order = await db.sql<{ id: string }>(
        `select id from sessionward_session where id in (${seen.map(() => '?').join(',')})
          order by created_at desc, id desc`,
        seen,
      )
      expect(seen).toEqual(order.map((row) => row.id))
    })

    it('renders the list as a CSP-safe HTML page with the chart and a next-page link', async () => {
      const app = await adminApp(db)
      for (let i = 0; i < 3; i++) await app.login(`user-${i}`)
      const response = await app.call('/admin/sessions?limit=2', {
        token: app.adminToken,
        headers: HTML_ACCEPT,
      })
      expect(response.status).toBe(200)
      expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
      expect(response.headers.get('x-frame-options')).toBe('DENY')
      const html = await response.text()
      expect(html.startsWith('<!doctype html>')).toBe(true)
      expect(html).toContain('<link rel="stylesheet" href="/admin/sessions/admin.css"/>')
      expect(html).toContain('data-testid="activity-chart"')
      expect(html).toContain('<svg')
      expect(html).toMatch(/rel="next"/)
      expect(html.match(/data-session-id=/g)).toHaveLength(2)
      expect(html).toContain('action="/admin/sessions/')
      expect(html).not.toMatch(/<script|style=|\son[a-z]+=/i)
      const css = await app.call('/admin/sessions/admin.css', { token: app.adminToken })
      expect(css.headers.get('content-type')).toContain('text/css')
      // No Accept at all (curl, a plain fetch) gets the page.
      const plain = await app.call('/admin/sessions', { token: app.adminToken })
      expect(plain.headers.get('content-type')).toContain('text/html')
    })
  })

  describe('details and ending', () => {
    it('shows one session, 404 for an unknown or malformed id', async () => {
      const app = await adminApp(db)
      const alice = await app.login('alice')
      const response = await app.call(`/admin/sessions/${alice.id}`, {
        token: app.adminToken,
        headers: JSON_ACCEPT,
      })
      expect(response.status).toBe(200)
      expect(await response.json()).toMatchObject({
        session: {
          id: alice.id,
          userId: 'alice',
          live: true,
          userAgent: { browser: 'Chrome' },
        },
      })
      const page = await app.call(`/admin/sessions/${alice.id}`, {
        token: app.adminToken,
        headers: HTML_ACCEPT,
      })
      expect(await page.text()).toContain(alice.id)
      for (const id of [randomUUID(), 'nope']) {
        const missing = await app.call(`/admin/sessions/${id}`, {
          token: app.adminToken,
          headers: JSON_ACCEPT,
        })
        expect(missing.status).toBe(404)
        expect(await missing.json()).toMatchObject({ error: 'not_found' })
      }
    })

    it('DELETE /:id ends one session with reason admin, at once, hooks fired', async () => {
      const app = await adminApp(db)
      const alice = await app.login('alice')
      expect((await app.call('/api/me', { token: alice.token })).status).toBe(200)
      const response = await app.call(`/admin/sessions/${alice.id}`, {
        method: 'DELETE',
        token: app.adminToken,
      })
      expect(response.status).toBe(204)
      const me = await app.call('/api/me', { token: alice.token })
      expect(await me.json()).toMatchObject({ error: 'session_ended', reason: 'admin' })
      expect(app.ends).toEqual(['admin'])
      const again = await app.call(`/admin/sessions/${alice.id}`, {
        method: 'DELETE',
        token: app.adminToken,
      })
      expect(again.status).toBe(404)
      expect(((await again.json()) as { message: string }).message).toContain(
        'already ended (admin)',
      )
    })

    it('DELETE /?user= ends every live session of that user and logs reason admin', async () => {
      const app = await adminApp(db)
      const tokens = [await app.login('bob'), await app.login('bob'), await app.login('bob')]
      const carol = await app.login('carol')
      const response = await app.call('/admin/sessions?user=bob', {
        method: 'DELETE',
        token: app.adminToken,
      })
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual({ ended: 3 })
      for (const { token } of tokens) {
        expect((await app.call('/api/me', { token })).status).toBe(401)
      }
      expect((await app.call('/api/me', { token: carol.token })).status).toBe(200)
      const list = (await (
        await app.call('/admin/sessions?user=bob', { token: app.adminToken, headers: JSON_ACCEPT })
      ).json()) as ListBody
      expect(list.sessions.filter((s) => s.live)).toEqual([])
      expect(list.sessions.map((s) => s.endReason)).toEqual(['admin', 'admin', 'admin'])
      const missing = await app.call('/admin/sessions', { method: 'DELETE', token: app.adminToken })
      expect(missing.status).toBe(400)
      expect(await missing.json()).toMatchObject({ error: 'invalid_request' })
    })

    it('HTML forms: POST /:id/end and POST /end?user= end sessions and redirect back', async () => {
      const app = await adminApp(db)
      const alice = await app.login('alice')
      const bob = await app.login('bob')
      const form = (path: string, referer?: string) =>
        app.app.request(`http://localhost${path}`, {
          method: 'POST',
          headers: {
            'user-agent': CHROME_120,
            cookie: `__Host-sessionward=${app.adminToken}`,
            origin: 'http://localhost',
            'content-type': 'application/x-www-form-urlencoded',
            ...(referer ? { referer } : {}),
            ...HTML_ACCEPT,
          },
        })
      const one = await form(
        `/admin/sessions/${alice.id}/end`,
        'http://localhost/admin/sessions?user=alice',
      )
      expect(one.status).toBe(303)
      expect(one.headers.get('location')).toBe('/admin/sessions?user=alice')
      expect((await app.call('/api/me', { token: alice.token })).status).toBe(401)
      const all = await form('/admin/sessions/end?user=bob', 'https://evil.example/admin/sessions')
      expect(all.status).toBe(303)
      // A foreign Referer is never followed.
      expect(all.headers.get('location')).toBe('/admin/sessions?user=bob')
      expect((await app.call('/api/me', { token: bob.token })).status).toBe(401)
      expect(app.ends).toEqual(['admin', 'admin'])
    })
  })

  describe('activity chart', () => {
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['Date'] })
      vi.setSystemTime(START)
    })
    afterEach(() => {
      vi.useRealTimers()
    })

    it('counts sessions started and ended per hour by reason over the last 24 hours', async () => {
      await insertRow(db, { userId: 'a', createdAt: '2026-11-23T08:59:59Z' })
      await insertRow(db, { userId: 'a', createdAt: '2026-11-23T09:00:00Z' })
      await insertRow(db, {
        userId: 'b',
        createdAt: '2026-11-22T09:30:00Z',
        endedAt: '2026-11-23T09:10:00Z',
        endReason: 'idle',
      })
      await insertRow(db, {
        userId: 'c',
        createdAt: '2026-11-22T08:59:00Z',
        endedAt: '2026-11-22T10:10:00Z',
        endReason: 'admin',
      })
      const activity = await new Store(db.orm).hourlyActivity(Date.now())
      expect(activity.hours).toHaveLength(24)
      expect(new Date(activity.hours[0] ?? 0).toISOString()).toBe('2026-11-22T10:00:00.000Z')
      expect(new Date(activity.hours[23] ?? 0).toISOString()).toBe('2026-11-23T09:00:00.000Z')
      expect(activity.started[22]).toBe(1)
      expect(activity.started[23]).toBe(1)
      // 2026-11-22T09:30 and 08:59 are more than 24 clock hours back: not counted.
      expect(activity.started.reduce((a, b) => a + b, 0)).toBe(2)
      expect(activity.ended.idle?.[23]).toBe(1)
      expect(activity.ended.admin?.[0]).toBe(1)
      expect(Object.keys(activity.ended).sort()).toEqual(['admin', 'idle'])
    })
  })
})

describe('admin query parsing', () => {
  it('round-trips cursors and refuses forged ones', () => {
    const cursor = { atUs: '1795424400123456', id: randomUUID() }
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor)
    expect(decodeCursor('')).toBeNull()
    expect(decodeCursor(Buffer.from('{"a":1}').toString('base64url'))).toBeNull()
    expect(decodeCursor(Buffer.from(`["1e9","${cursor.id}"]`).toString('base64url'))).toBeNull()
  })

  it('reads dates as UTC unless a zone is given', () => {
    const parsed = parseListQuery({
      createdAfter: '2026-11-23',
      createdBefore: '2026-11-23T10:30',
      endedAfter: '2026-11-23T10:30:00+02:00',
    })
    expect(parsed).toEqual({
      filters: {
        limit: 50,
        createdAfter: new Date('2026-11-23T00:00:00Z'),
        createdBefore: new Date('2026-11-23T10:30:00Z'),
        endedAfter: new Date('2026-11-23T08:30:00Z'),
      },
    })
  })
})
