import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { NewDeviceEvent, ReportEvent, WardOptions } from './options.ts'
import { CHROME_120, FIREFOX_120, type TestApp, testApp } from './test-support/app.ts'
import { at } from './test-support/clock.ts'
import { onEachDatabase, type TestDatabase, testDatabase } from './test-support/db.ts'
import { manyInstancesSkipReason } from './test-support/instances.ts'
import { EventReader } from './test-support/sse.ts'

// Known devices and new-device sign-ins (issue 23): told at once, ended in one click.

const REPORT_URL = 'https://app.example/session/report'
const DEVICE_COOKIE = '__Host-sessionward-device'

/** What one test saw: the hooks' calls and every line the ward logged. */
interface Seen {
  newDevices: NewDeviceEvent[]
  reports: ReportEvent[]
  logs: string[]
}

/** A test app with known devices on, recording its hooks and its log. */
async function deviceApp(
  db: Pick<TestDatabase, 'orm'> | string,
  options: WardOptions = {},
): Promise<{ t: TestApp; seen: Seen }> {
  const seen: Seen = { newDevices: [], reports: [], logs: [] }
  const log =
    (write: (...args: unknown[]) => void) =>
    (...args: unknown[]) => {
      seen.logs.push(args.map(String).join(' '))
      write(...args)
    }
  const t = await testApp(db, {
    newDevice: { reportUrl: REPORT_URL },
    hooks: {
      onNewDevice: (event) => void seen.newDevices.push(event),
      onReport: (event) => void seen.reports.push(event),
    },
    logger: {
      info: log(() => {}),
      warn: log(console.warn),
      error: log(console.error),
    },
    ...options,
  })
  return { t, seen }
}

/** POST /login for `userId` from `userAgent`, with the device cookie when `device` is given. */
function postLogin(t: TestApp, userId: string, device: string | null, userAgent: string) {
  return t.app.request('/login', {
    method: 'POST',
    body: JSON.stringify({ userId }),
    headers: {
      'content-type': 'application/json',
      'user-agent': userAgent,
      ...(device ? { cookie: `${DEVICE_COOKIE}=${device}` } : {}),
    },
  })
}

/** A sign-in from a browser holding `device` (its device cookie) or none. */
async function signIn(
  t: TestApp,
  userId: string,
  device: string | null,
  userAgent = CHROME_120,
): Promise<SignedIn> {
  const response = await postLogin(t, userId, device, userAgent)
  expect(response.status).toBe(200)
  const set = response.headers.getSetCookie().find((c) => c.startsWith(`${DEVICE_COOKIE}=`))
  if (!set) throw new Error('the sign-in set no device cookie')
  const { token, id } = (await response.json()) as { token: string; id: string }
  const value = set.slice(DEVICE_COOKIE.length + 1).split(';')[0] as string
  return { token, id, device: value, userAgent }
}

/** A sign-in on a known device whose session rides in the cookie: `name=value` of that cookie. */
async function sessionCookie(t: TestApp, userId: string, device: string): Promise<string> {
  const response = await postLogin(t, userId, device, CHROME_120)
  return response.headers
    .getSetCookie()
    .find((c) => c.startsWith('__Host-sessionward='))
    ?.split(';')[0] as string
}

/** A session signed in: its token, id, device id and the browser it signed in with. */
interface SignedIn {
  token: string
  id: string
  device: string
  userAgent: string
}

/** A request of that session (its token, its own browser). */
function by(session: SignedIn, init: { method?: string } = {}) {
  return { ...init, token: session.token, userAgent: session.userAgent }
}

function tokenOf(event: NewDeviceEvent | undefined): string {
  if (!event) throw new Error('no onNewDevice call')
  return new URL(event.reportUrl).searchParams.get('token') ?? ''
}

onEachDatabase((open) => {
  let db: TestDatabase
  const readers: EventReader[] = []
  const apps: TestApp[] = []

  beforeEach(async () => {
    db = await open()
  })
  afterEach(async () => {
    for (const reader of readers.splice(0)) await reader.cancel()
    for (const t of apps.splice(0)) await t.settled()
    vi.useRealTimers()
  })

  async function app(options?: WardOptions) {
    const made = await deviceApp(db, options)
    apps.push(made.t)
    return made
  }

  async function listen(t: TestApp, session: SignedIn): Promise<EventReader> {
    const events = new EventReader(await t.call('/session/events', by(session)))
    readers.push(events)
    expect((await events.next())?.event).toBe('policy')
    return events
  }

  it('sets a long-lived __Host- device cookie; only its hash is stored', async () => {
    const { t } = await app()
    const response = await t.app.request('/login', {
      method: 'POST',
      body: JSON.stringify({ userId: 'alice' }),
      headers: { 'content-type': 'application/json', 'user-agent': CHROME_120 },
    })
    const set = response.headers.getSetCookie().find((c) => c.startsWith(`${DEVICE_COOKIE}=`))
    expect(set).toMatch(
      /^__Host-sessionward-device=swd_[A-Za-z0-9_-]{43}; Max-Age=34560000; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
    )
    const device = set?.split(';')[0]?.split('=')[1] as string
    const rows = await db.sql<{ device_hash: string }>('select device_hash from sessionward_device')
    expect(rows).toHaveLength(1)
    expect(rows[0]?.device_hash).toMatch(/^[0-9a-f]{64}$/)
    expect(JSON.stringify(rows)).not.toContain(device)
  })

  it('first sign-in: no alert; the same device again: none; another device: one', async () => {
    const { t, seen } = await app()
    const first = await signIn(t, 'alice', null)
    expect(seen.newDevices).toHaveLength(0)
    const again = await signIn(t, 'alice', first.device)
    expect(again.device).toBe(first.device)
    expect(seen.newDevices).toHaveLength(0)
    const events = [await listen(t, first), await listen(t, again)]
    const stranger = await signIn(t, 'alice', null, FIREFOX_120)
    expect(stranger.device).not.toBe(first.device)
    expect(seen.newDevices).toHaveLength(1)
    const [alert] = seen.newDevices
    expect(alert?.session.id).toBe(stranger.id)
    expect(alert?.device).toMatchObject({ userId: 'alice', browser: 'Firefox', os: 'Windows' })
    expect(alert?.reportUrl).toMatch(/^https:\/\/app\.example\/session\/report\?token=swr_/)
    for (const stream of events) {
      const event = await stream.next()
      expect(event?.event).toBe('new-device')
      expect(JSON.parse(event?.data ?? '')).toMatchObject({
        sessionId: stranger.id,
        browser: 'Firefox',
        os: 'Windows',
      })
    }
    // Another user's first device is no news to anyone.
    await signIn(t, 'bob', null)
    expect(seen.newDevices).toHaveLength(1)
  })

  it('lists the devices and forgets one: its next sign-in is new again', async () => {
    const { t, seen } = await app()
    const first = await signIn(t, 'alice', null)
    const second = await signIn(t, 'alice', null, FIREFOX_120)
    expect(seen.newDevices).toHaveLength(1)
    const listed = await t.call('/session/devices', { token: first.token })
    expect(listed.status).toBe(200)
    const { devices } = (await listed.json()) as { devices: { id: string; browser: string }[] }
    expect(devices.map((d) => d.browser).sort()).toEqual(['Chrome', 'Firefox'])
    expect(await t.ward.listDevices('alice')).toHaveLength(2)
    const firefox = devices.find((d) => d.browser === 'Firefox')?.id as string
    const gone = await t.call(`/session/devices/${firefox}`, {
      method: 'DELETE',
      token: first.token,
    })
    expect(gone.status).toBe(204)
    expect(await t.ward.forgetDevice('bob', devices[0]?.id as string)).toBe(false)
    const missing = await t.call(`/session/devices/${firefox}`, {
      method: 'DELETE',
      token: first.token,
    })
    expect(missing.status).toBe(404)
    await signIn(t, 'alice', second.device, FIREFOX_120)
    expect(seen.newDevices).toHaveLength(2)
  })

  it('the admin view lists a user’s devices as JSON', async () => {
    const { t } = await app()
    t.app.route('/admin', t.ward.adminRoutes({ authorize: () => true }))
    const admin = await signIn(t, 'root', null)
    await signIn(t, 'alice', null)
    await signIn(t, 'alice', null, FIREFOX_120)
    const listed = await t.call('/admin/devices?user=alice', {
      ...by(admin),
      headers: { accept: 'application/json' },
    })
    expect(listed.status).toBe(200)
    const { devices } = (await listed.json()) as { devices: Record<string, unknown>[] }
    expect(devices.map((d) => d.browser).sort()).toEqual(['Chrome', 'Firefox'])
    expect(Object.keys(devices[0] ?? {}).sort()).toEqual([
      'browser',
      'firstSeenAt',
      'id',
      'lastSeenAt',
      'os',
    ])
    const noUser = await t.call('/admin/devices', by(admin))
    expect(noUser.status).toBe(400)
  })

  it('a device not seen for 400 days (its cookie’s life) is dropped at the next sign-in', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    at(0)
    const { t } = await app()
    const old = await signIn(t, 'alice', null)
    at(200 * 86_400)
    const kept = await signIn(t, 'alice', null, FIREFOX_120)
    at(401 * 86_400)
    await signIn(t, 'alice', kept.device, FIREFOX_120)
    const devices = await t.ward.listDevices('alice')
    expect(devices.map((d) => d.browser)).toEqual(['Firefox'])
    expect(old.device).not.toBe(kept.device)
  })

  it('a header-token app passes its own device id to signIn', async () => {
    const { t, seen } = await app({ cookie: false })
    const outside = (deviceId: string) =>
      t.ward.signIn(
        new Request('http://localhost/login', {
          method: 'POST',
          headers: { 'user-agent': CHROME_120 },
        }),
        'alice',
        { deviceId },
      )
    const first = await outside('phone-1')
    expect('token' in first && first.headers.get('set-cookie')).toBe(null)
    await outside('phone-1')
    expect(seen.newDevices).toHaveLength(0)
    await outside('tablet-7')
    expect(seen.newDevices).toHaveLength(1)
    await expect(outside('')).rejects.toThrow(
      'sessionward: createSession deviceId must be a string of 1 to 255 characters',
    )
    await expect(outside('x'.repeat(256))).rejects.toThrow(TypeError)
  })

  it('the report link: GET changes nothing, POST ends reported once, then is refused', async () => {
    const { t, seen } = await app()
    const mine = await signIn(t, 'alice', null)
    const stranger = await signIn(t, 'alice', null, FIREFOX_120)
    const token = tokenOf(seen.newDevices[0])
    const link = `/session/report?token=${token}`
    for (let i = 0; i < 2; i++) {
      const page = await t.call(link)
      expect(page.status).toBe(200)
      expect(page.headers.get('content-type')).toMatch(/^text\/html/)
      expect(page.headers.get('referrer-policy')).toBe('no-referrer')
      expect(page.headers.get('cache-control')).toBe('no-store')
      const html = await page.text()
      expect(html).toContain('Firefox on Windows')
      expect(html).toContain('<form method="post">')
    }
    expect((await t.call('/api/me', by(stranger))).status).toBe(200)
    expect(seen.reports).toHaveLength(0)

    const events = await listen(t, stranger)
    const reported = await t.call('/session/report', {
      method: 'POST',
      body: JSON.stringify({ token }),
    })
    expect(reported.status).toBe(200)
    expect(await reported.json()).toEqual({ ended: stranger.id, endedOthers: 0 })
    // Its browser hears it at once, and every request of it is refused with the reason.
    expect(await events.next()).toEqual({
      event: 'ended',
      data: JSON.stringify({ reason: 'reported' }),
    })
    const refused = await t.call('/api/me', by(stranger))
    expect(refused.status).toBe(401)
    expect(await refused.json()).toMatchObject({ error: 'session_ended', reason: 'reported' })
    expect((await t.call('/api/me', by(mine))).status).toBe(200)
    expect(seen.reports.map((r) => [r.sessionId, r.session?.endReason])).toEqual([
      [stranger.id, 'reported'],
    ])

    const second = await t.call('/session/report', {
      method: 'POST',
      body: JSON.stringify({ token }),
    })
    expect(second.status).toBe(400)
    expect(await second.json()).toMatchObject({
      error: 'report_link_invalid',
      message: expect.stringMatching(/used already/),
    })
    expect(seen.reports).toHaveLength(1)
  })

  it('a browser form posts the token and gets a page; "every other session" keeps its own', async () => {
    const { t, seen } = await app()
    const mine = await signIn(t, 'alice', null)
    const other = await signIn(t, 'alice', mine.device)
    const stranger = await signIn(t, 'alice', null, FIREFOX_120)
    const token = tokenOf(seen.newDevices[0])
    const response = await t.call('/session/report', {
      method: 'POST',
      token: mine.token,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'text/html',
      },
      body: new URLSearchParams({ token, others: 'true' }).toString(),
    })
    expect(response.status).toBe(200)
    expect(await response.text()).toContain('1 other session(s) ended too')
    expect((await t.call('/api/me', by(mine))).status).toBe(200)
    for (const [session, reason] of [
      [other, 'revoked'],
      [stranger, 'reported'],
    ] as const) {
      const refused = await t.call('/api/me', by(session))
      expect(await refused.json()).toMatchObject({ error: 'session_ended', reason })
    }
    expect(seen.reports[0]).toMatchObject({ endedOthers: 1 })
  })

  it('"every other session" with a cross-origin cookie is refused (CSRF), ending nothing', async () => {
    const { t, seen } = await app()
    const mine = await signIn(t, 'alice', null)
    const stranger = await signIn(t, 'alice', null, FIREFOX_120)
    const token = tokenOf(seen.newDevices[0])
    const cookie = await sessionCookie(t, 'alice', mine.device)
    const response = await t.call('/session/report', {
      method: 'POST',
      headers: { cookie, origin: 'https://evil.example' },
      body: JSON.stringify({ token, others: true }),
    })
    expect(response.status).toBe(403)
    expect(await response.json()).toMatchObject({ error: 'origin_rejected' })
    expect((await t.call('/api/me', by(stranger))).status).toBe(200)
  })

  it('an expired, tampered or missing link is refused with a JSON error', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    at(0)
    const { t, seen } = await app({ newDevice: { reportUrl: REPORT_URL, reportTtl: 60 } })
    await signIn(t, 'alice', null)
    const stranger = await signIn(t, 'alice', null, FIREFOX_120)
    const token = tokenOf(seen.newDevices[0])
    const tampered = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`
    for (const [body, message] of [
      [{ token: tampered }, /not valid/],
      [{ token: 'swr_short' }, /not valid/],
      [{}, /token/],
    ] as const) {
      const response = await t.call('/session/report', {
        method: 'POST',
        body: JSON.stringify(body),
      })
      expect(response.status).toBe(400)
      expect(await response.json()).toMatchObject({ message: expect.stringMatching(message) })
    }
    at(61)
    const page = await t.call(`/session/report?token=${token}`, {
      headers: { accept: 'text/html' },
    })
    expect(page.status).toBe(400)
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    expect(await page.text()).toContain('expired')
    const api = await t.call(`/session/report?token=${token}`)
    expect(api.status).toBe(400)
    expect(await api.json()).toMatchObject({ error: 'report_link_invalid' })
    const expired = await t.call('/session/report', {
      method: 'POST',
      body: JSON.stringify({ token }),
    })
    expect(expired.status).toBe(400)
    expect(await expired.json()).toMatchObject({
      error: 'report_link_invalid',
      message: expect.stringMatching(/expired/),
    })
    expect((await t.call('/api/me', by(stranger))).status).toBe(200)
  })

  it('a report of a session already ended and trimmed from the log still answers and tells onReport', async () => {
    const { t, seen } = await app({ logLimit: 0 })
    await signIn(t, 'alice', null)
    const stranger = await signIn(t, 'alice', null, FIREFOX_120)
    const token = tokenOf(seen.newDevices[0])
    const logout = await t.call('/session/logout', by(stranger, { method: 'POST' }))
    expect(logout.status).toBe(204)
    expect(await db.sql('select id from sessionward_session where id = ?', [stranger.id])).toEqual(
      [],
    )
    const reported = await t.call('/session/report', {
      method: 'POST',
      body: JSON.stringify({ token }),
    })
    expect(reported.status).toBe(200)
    expect(seen.reports).toEqual([
      { userId: 'alice', sessionId: stranger.id, session: null, endedOthers: 0 },
    ])
  })

  it('"Not you?" from a live session ends the other one as reported', async () => {
    const { t, seen } = await app()
    const mine = await signIn(t, 'alice', null)
    const stranger = await signIn(t, 'alice', null, FIREFOX_120)
    const bob = await signIn(t, 'bob', null)
    const notBobs = await t.call(`/session/sessions/${bob.id}/report`, {
      method: 'POST',
      token: mine.token,
    })
    expect(notBobs.status).toBe(404)
    const response = await t.call(`/session/sessions/${stranger.id}/report`, {
      method: 'POST',
      token: mine.token,
    })
    expect(response.status).toBe(204)
    const refused = await t.call('/api/me', by(stranger))
    expect(await refused.json()).toMatchObject({ error: 'session_ended', reason: 'reported' })
    expect(seen.reports.map((r) => r.session?.id)).toEqual([stranger.id])
  })

  it('"Not you?" with the session cookie from another origin is refused (CSRF): nothing ends', async () => {
    const { t } = await app()
    const mine = await signIn(t, 'alice', null)
    const stranger = await signIn(t, 'alice', null, FIREFOX_120)
    const cookie = await sessionCookie(t, 'alice', mine.device)
    const path = `/session/sessions/${stranger.id}/report`
    const forged = await t.call(path, {
      method: 'POST',
      headers: { cookie, origin: 'https://evil.example' },
    })
    expect(forged.status).toBe(403)
    expect(await forged.json()).toMatchObject({ error: 'origin_rejected' })
    expect((await t.call('/api/me', by(stranger))).status).toBe(200)
    // The same request from the app's own page ends it.
    const own = await t.call(path, {
      method: 'POST',
      headers: { cookie, origin: 'http://localhost', 'sec-fetch-site': 'same-origin' },
    })
    expect(own.status).toBe(204)
    expect(await (await t.call('/api/me', by(stranger))).json()).toMatchObject({
      reason: 'reported',
    })
  })

  describe('hold mode (newDevice.hold)', () => {
    const HOLD = { newDevice: { reportUrl: REPORT_URL, hold: true, holdFor: 60 } }
    const post = (session: SignedIn) => by(session, { method: 'POST' })
    const ping = (t: TestApp, session: SignedIn) =>
      t.call('/session/ping', { ...post(session), body: JSON.stringify({ idleFor: 0 }) })

    it('a new device’s session answers only its ping until approved; the notice says it is held', async () => {
      const { t } = await app(HOLD)
      const mine = await signIn(t, 'alice', null)
      const reader = await listen(t, mine)
      const held = await signIn(t, 'alice', null, FIREFOX_120)
      const notice = await reader.next()
      expect(notice?.event).toBe('new-device')
      expect(JSON.parse(notice?.data ?? '')).toMatchObject({ sessionId: held.id, held: true })

      const refused = await t.call('/api/me', by(held))
      expect(refused.status).toBe(403)
      expect(await refused.json()).toEqual({
        error: 'session_held',
        message: expect.stringMatching(/waits for approval/),
      })
      // Its own heartbeat answers; nothing about the user's other sessions does.
      expect((await ping(t, held)).status).toBe(200)
      for (const [path, method] of [
        ['/session/sessions', 'GET'],
        [`/session/sessions/${mine.id}`, 'DELETE'],
        [`/session/sessions/${mine.id}/report`, 'POST'],
        [`/session/sessions/${held.id}/approve`, 'POST'],
        ['/session/devices', 'GET'],
      ] as const) {
        const response = await t.call(path, by(held, { method }))
        expect(response.status, `${method} ${path}`).toBe(403)
        expect(await response.json()).toMatchObject({ error: 'session_held' })
      }
      expect((await t.call('/api/me', by(mine))).status).toBe(200)
      // Outside Hono the same answer (Express, Fastify, Next.js).
      const outside = await t.ward.authenticate(
        new Request('http://localhost/api/me', {
          headers: { authorization: `Bearer ${held.token}`, 'user-agent': held.userAgent },
        }),
      )
      expect(outside).toMatchObject({ problem: { status: 403, error: 'session_held' } })
      // The user's first device is not held, nor is the same device again.
      const again = await signIn(t, 'alice', held.device, FIREFOX_120)
      expect((await t.call('/api/me', by(again))).status).toBe(200)
    })

    it('is approved by a live session of the same user, not by another user’s', async () => {
      const { t } = await app(HOLD)
      const mine = await signIn(t, 'alice', null)
      const held = await signIn(t, 'alice', null, FIREFOX_120)
      const bob = await signIn(t, 'bob', null)
      const notBobs = await t.call(`/session/sessions/${held.id}/approve`, post(bob))
      expect(notBobs.status).toBe(404)
      expect(await notBobs.json()).toMatchObject({ error: 'not_found' })
      expect((await t.call('/api/me', by(held))).status).toBe(403)

      const approved = await t.call(`/session/sessions/${held.id}/approve`, post(mine))
      expect(approved.status).toBe(204)
      expect((await t.call('/api/me', by(held))).status).toBe(200)
      // Approved once: a second approval finds nothing held.
      expect((await t.call(`/session/sessions/${held.id}/approve`, post(mine))).status).toBe(404)
    })

    it('unapproved past holdFor, it ends reported (its ping hears it); approval comes too late', async () => {
      vi.useFakeTimers({ toFake: ['Date'] })
      at(0)
      const { t } = await app(HOLD)
      const mine = await signIn(t, 'alice', null)
      const held = await signIn(t, 'alice', null, FIREFOX_120)
      at(59)
      expect((await ping(t, held)).status).toBe(200)
      at(60)
      expect((await t.call(`/session/sessions/${held.id}/approve`, post(mine))).status).toBe(404)
      const lapsed = await ping(t, held)
      expect(lapsed.status).toBe(401)
      expect(await lapsed.json()).toMatchObject({ error: 'session_ended', reason: 'reported' })
      const [row] = await db.sql('select end_reason from sessionward_session where id = ?', [
        held.id,
      ])
      expect(row).toMatchObject({ end_reason: 'reported' })
      expect((await t.call('/api/me', by(mine))).status).toBe(200)
    })

    it('is approved through the report link ("Yes, it was me"), which is spent by it', async () => {
      const { t, seen } = await app(HOLD)
      await signIn(t, 'alice', null)
      const held = await signIn(t, 'alice', null, FIREFOX_120)
      const token = tokenOf(seen.newDevices[0])
      const page = await t.call(`/session/report?token=${token}`, {
        headers: { accept: 'text/html' },
      })
      expect(await page.text()).toContain('name="approve" value="true">Yes, it was me')
      const approved = await t.call('/session/report', {
        method: 'POST',
        body: JSON.stringify({ token, approve: true }),
      })
      expect(approved.status).toBe(200)
      expect(await approved.json()).toEqual({ approved: held.id })
      expect((await t.call('/api/me', by(held))).status).toBe(200)
      const again = await t.call('/session/report', {
        method: 'POST',
        body: JSON.stringify({ token }),
      })
      expect(again.status).toBe(400)
      expect(await again.json()).toMatchObject({ error: 'report_link_invalid' })
      expect((await t.call('/api/me', by(held))).status).toBe(200)
      const bad = await t.call('/session/report', {
        method: 'POST',
        body: JSON.stringify({ token, approve: 'maybe' }),
      })
      expect(await bad.json()).toMatchObject({ message: 'approve must be true or false' })
    })

    it('the sweep ends a lapsed hold reported, and its stream hears it, though it asks nothing', async () => {
      vi.useFakeTimers({ toFake: ['Date'] })
      at(0)
      const { t } = await app(HOLD)
      await signIn(t, 'alice', null)
      const held = await signIn(t, 'alice', null, FIREFOX_120)
      const stream = await listen(t, held)
      at(59)
      expect(await t.ward.sweep()).toBe(0)
      at(60)
      expect(await t.ward.sweep()).toBe(1)
      const ended = await stream.next()
      expect(ended?.event).toBe('ended')
      expect(JSON.parse(ended?.data ?? '')).toMatchObject({ reason: 'reported' })
      const [row] = await db.sql('select end_reason from sessionward_session where id = ?', [
        held.id,
      ])
      expect(row).toMatchObject({ end_reason: 'reported' })
    })

    it('"Not you?" ends a held session like any other', async () => {
      const { t } = await app(HOLD)
      const mine = await signIn(t, 'alice', null)
      const held = await signIn(t, 'alice', null, FIREFOX_120)
      expect((await t.call(`/session/sessions/${held.id}/report`, post(mine))).status).toBe(204)
      expect(await (await ping(t, held)).json()).toMatchObject({ reason: 'reported' })
    })

    it('hold and holdFor are checked', async () => {
      for (const [newDevice, message] of [
        [{ reportUrl: REPORT_URL, hold: 'yes' }, /newDevice.hold must be true or false/],
        [{ reportUrl: REPORT_URL, holdFor: 0 }, /newDevice.holdFor/],
      ] as const) {
        await expect(deviceApp(db, { newDevice } as unknown as WardOptions)).rejects.toThrow(
          message,
        )
      }
    })
  })

  it('logs no device id and no report token', async () => {
    const { t, seen } = await app()
    const first = await signIn(t, 'alice', null)
    await signIn(t, 'alice', null, FIREFOX_120)
    const token = tokenOf(seen.newDevices[0])
    await t.call(`/session/report?token=${token}`)
    await t.call('/session/report', { method: 'POST', body: JSON.stringify({ token }) })
    await t.call('/session/report', { method: 'POST', body: JSON.stringify({ token }) })
    const all = seen.logs.join('\n')
    expect(all).not.toContain(first.device)
    expect(all).not.toContain(token)
    expect(all).not.toMatch(/sw[dr]_/)
  })

  it('with newDevice off: no device cookie, and the devices routes say how to turn it on', async () => {
    const t = await testApp(db)
    apps.push(t)
    const response = await t.app.request('/login', {
      method: 'POST',
      body: JSON.stringify({ userId: 'alice' }),
      headers: { 'content-type': 'application/json', 'user-agent': CHROME_120 },
    })
    const { token } = (await response.json()) as { token: string }
    expect(response.headers.getSetCookie().some((c) => c.includes('-device='))).toBe(false)
    const devices = await t.call('/session/devices', { token })
    expect(devices.status).toBe(404)
    expect(await devices.json()).toMatchObject({ message: expect.stringMatching(/newDevice/) })
  })
})

describe('createWard newDevice option', () => {
  it.each([
    [{ reportUrl: '/session/report' }, /newDevice.reportUrl must be the absolute URL/],
    [{ reportUrl: REPORT_URL, reportTtl: 0 }, /newDevice.reportTtl must be/],
    [{}, /newDevice.reportUrl is required/],
  ])('refuses %j', async (newDevice, message) => {
    const { resolveOptions } = await import('./options.ts')
    expect(() => resolveOptions({ newDevice } as WardOptions)).toThrow(message)
  })
})

const skipped = manyInstancesSkipReason ? ` (skipped: ${manyInstancesSkipReason})` : ''

// The notice travels on either bus, beside ends and rotations.
const BUSES: [string, () => WardOptions][] = [
  ['Redis', () => ({ redis: String(process.env.REDIS_URL) })],
  ['PostgreSQL', () => ({ bus: 'postgres' })],
]

for (const [busName, busOptions] of BUSES) {
  describe.skipIf(manyInstancesSkipReason !== null)(
    `two instances on one ${busName} bus${skipped}`,
    { timeout: 120_000 },
    () => {
      const readers: EventReader[] = []
      const apps: TestApp[] = []
      afterEach(async () => {
        for (const reader of readers.splice(0)) await reader.cancel()
        for (const t of apps.splice(0)) await t.settled()
      })

      async function listen(t: TestApp, session: SignedIn): Promise<EventReader> {
        const events = new EventReader(await t.call('/session/events', by(session)))
        readers.push(events)
        expect((await events.next())?.event).toBe('policy')
        return events
      }

      it('a new device on one instance is told on every other session’s stream, on both; its report ends it everywhere', async () => {
        const db = await testDatabase('PostgreSQL')
        await db.reset()
        // Each instance opens its own pool; a long cacheTtl: only the bus can tell the other one.
        const shared: WardOptions = { ...busOptions(), cacheTtl: 3600 }
        const a = await deviceApp(String(db.url), shared)
        const b = await deviceApp(String(db.url), shared)
        apps.push(a.t, b.t)
        // Both subscribed: an end made on one is refused by the other (its cache alone would not).
        const probe = await signIn(a.t, 'probe', null)
        expect((await b.t.call('/api/me', by(probe))).status).toBe(200)
        await a.t.ward.endSession(probe.id)
        await vi.waitFor(
          async () => expect((await b.t.call('/api/me', by(probe))).status).toBe(401),
          { timeout: 30_000, interval: 100 },
        )
        const first = await signIn(a.t, 'alice', null)
        const second = await signIn(b.t, 'alice', first.device)
        const onA = await listen(a.t, first)
        const onB = await listen(b.t, second)
        const stranger = await signIn(b.t, 'alice', null, FIREFOX_120)
        expect(a.seen.newDevices).toHaveLength(0)
        expect(b.seen.newDevices.map((event) => event.session.id)).toEqual([stranger.id])
        for (const stream of [onA, onB]) {
          const event = await stream.next()
          expect(event?.event).toBe('new-device')
          expect(JSON.parse(event?.data ?? '')).toMatchObject({ sessionId: stranger.id })
        }
        // Reported on instance A; the stranger's stream on B hears the end.
        const strangerStream = await listen(b.t, stranger)
        const token = tokenOf(b.seen.newDevices[0])
        const reported = await a.t.call('/session/report', {
          method: 'POST',
          body: JSON.stringify({ token }),
        })
        expect(reported.status).toBe(200)
        expect(await strangerStream.next()).toEqual({
          event: 'ended',
          data: JSON.stringify({ reason: 'reported' }),
        })
        expect(await (await b.t.call('/api/me', by(stranger))).json()).toMatchObject({
          error: 'session_ended',
          reason: 'reported',
        })
      })
    },
  )
}
