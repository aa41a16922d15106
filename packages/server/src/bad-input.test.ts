import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { WardOptions } from './options.ts'
import { testApp as openApp, type TestApp } from './test-support/app.ts'
import { postgresSkipReason, type TestDatabase, testDatabase } from './test-support/db.ts'
import { redisSkipReason } from './test-support/instances.ts'
import { findLeaks } from './test-support/leaks.ts'

// Every kind of bad input a client can send, with the documented answer. Never a 500, and
// never a hang: on each store, with each bus it can have (issue 21), every ward closed after its
// test (a bus holds connections open until then). The PostgreSQL bus is PostgreSQL's LISTEN:
// PGlite has no round with it (a combination that cannot exist, not a skipped one).
const BUSES: [string, () => WardOptions, string | null, TestDatabase['name'][]][] = [
  ['no bus', () => ({}), null, ['PGlite', 'PostgreSQL']],
  [
    'the Redis bus',
    () => ({ redis: String(process.env.REDIS_URL) }),
    redisSkipReason,
    ['PGlite', 'PostgreSQL'],
  ],
  ['the PostgreSQL bus', () => ({ bus: 'postgres' }), null, ['PostgreSQL']],
]
const STORES: [TestDatabase['name'], string | null][] = [
  ['PGlite', null],
  ['PostgreSQL', postgresSkipReason],
]

for (const [store, storeSkip] of STORES) {
  for (const [busName, busOptions, busSkip, stores] of BUSES) {
    if (!stores.includes(store)) continue
    const skip = storeSkip ?? busSkip
    describe.skipIf(skip !== null)(
      `on ${store} with ${busName}${skip ? ` (skipped: ${skip})` : ''}`,
      () => badInput(store, busOptions),
    )
  }
}

function badInput(store: TestDatabase['name'], busOptions: () => WardOptions): void {
  let db: TestDatabase
  const opened: TestApp[] = []
  beforeEach(async () => {
    db = await testDatabase(store)
    await db.reset()
  })
  afterEach(async () => {
    for (const t of opened.splice(0)) await t.ward.close()
  })
  /** A test app with this round's bus, closed after the test. */
  const testApp = async (database: TestDatabase, options: WardOptions = {}) => {
    const t = await openApp(database, { ...busOptions(), ...options })
    opened.push(t)
    return t
  }

  describe('POST /session/ping with a bad body answers 400 invalid_request', () => {
    const cases: Array<[string, string]> = [
      ['malformed JSON', '{"idleFor": '],
      ['not an object', '[1, 2]'],
      ['idleFor negative', '{"idleFor": -1}'],
      ['idleFor NaN (as a string)', '{"idleFor": "NaN"}'],
      ['idleFor a string', '{"idleFor": "12"}'],
      ['idleFor 1e308', '{"idleFor": 1e308}'],
      ['idleFor overflowing to Infinity', '{"idleFor": 1e999}'],
      ['idleFor missing', '{}'],
      ['idleFor null', '{"idleFor": null}'],
      ['an empty body', ''],
      ['a 1 MB body', JSON.stringify({ idleFor: 1, pad: 'x'.repeat(1024 * 1024) })],
    ]
    it.each(cases)('%s', async (_name, body) => {
      const { login, call } = await testApp(db)
      const { token } = await login('alice')
      const response = await call('/session/ping', { method: 'POST', token, body })
      expect(response.status).toBe(400)
      const answer = await response.json()
      expect(answer.error).toBe('invalid_request')
      expect(typeof answer.message).toBe('string')
    })
  })

  describe('bad credentials answer 401 unauthenticated with WWW-Authenticate', () => {
    const cases: Array<[string, Record<string, string>]> = [
      ['no credentials at all', {}],
      ['a garbage bearer token', { authorization: 'Bearer garbage' }],
      ['a token with a wrong prefix', { authorization: `Bearer xyz_${'A'.repeat(43)}` }],
      ['a token of the right shape but unknown', { authorization: `Bearer swt_${'A'.repeat(43)}` }],
      ['an unknown scheme', { authorization: `Basic ${btoa('alice:alice')}` }],
      ['a scheme with no token', { authorization: 'Bearer ' }],
      ['a 10 KB Authorization header', { authorization: `Bearer ${'a'.repeat(10 * 1024)}` }],
      ['binary-looking bytes', { authorization: 'Bearer \u00ff\u00fe\u0001' }],
      ['a garbage cookie', { cookie: '__Host-sessionward=%%%; other=1' }],
    ]
    it.each(cases)('%s', async (_name, headers) => {
      const { call } = await testApp(db)
      const response = await call('/api/me', { headers })
      expect(response.status).toBe(401)
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="sessionward"/)
      const answer = await response.json()
      expect(answer).toMatchObject({ error: 'unauthenticated' })
      expect(typeof answer.message).toBe('string')
      expect(JSON.stringify(answer)).not.toContain('swt_')
    })
  })

  it('a bad query on the devices routes answers 400 or 404 JSON', async () => {
    const { login, call } = await testApp(db)
    const { token } = await login('alice')
    const others = await call('/session/sessions?others=maybe', { method: 'DELETE', token })
    expect(others.status).toBe(400)
    expect(await others.json()).toMatchObject({ error: 'invalid_request' })
    const notUuid = await call('/session/sessions/not-a-uuid', { method: 'DELETE', token })
    expect(notUuid.status).toBe(404)
    expect(await notUuid.json()).toMatchObject({ error: 'not_found' })
    for (const limit of ['0', '101', '-1', 'abc', '1.5', '1e2']) {
      const history = await call(`/session/history?limit=${limit}`, { token })
      expect(history.status, `limit=${limit}`).toBe(400)
      expect(await history.json()).toMatchObject({ error: 'invalid_request' })
    }
  })

  describe('fuzzed device cookies and report links: never a 500, nothing echoed', () => {
    // Shapes near the real ones (prefix, length, alphabet), and anything at all.
    const nearShape = fc
      .tuple(
        fc.constantFrom('swd_', 'swr_', 'swt_', 'SWR_', ''),
        fc.stringMatching(/^[A-Za-z0-9_\-%=.;, ]{0,60}$/),
      )
      .map(([prefix, rest]) => prefix + rest)
    const value = fc.oneof(nearShape, fc.string({ maxLength: 200 }))
    const newDevice = { reportUrl: 'https://app.example/session/report' }

    it('device cookies at sign-in', async () => {
      const { app } = await testApp(db, { newDevice })
      await fc.assert(
        fc.asyncProperty(value, async (device) => {
          const response = await app.request('/login', {
            method: 'POST',
            body: JSON.stringify({ userId: 'alice' }),
            headers: {
              'content-type': 'application/json',
              cookie: `__Host-sessionward-device=${encodeURIComponent(device)}`,
            },
          })
          expect(response.status).toBe(200)
          const set = response.headers.getSetCookie().join('\n')
          // A device id the ward did not make is replaced by one it makes.
          expect(set).toMatch(/__Host-sessionward-device=swd_[A-Za-z0-9_-]{43};/)
        }),
        { numRuns: 40 },
      )
    })

    it('report tokens on GET and POST', async () => {
      const { call } = await testApp(db, { newDevice })
      await fc.assert(
        fc.asyncProperty(value, fc.boolean(), async (token, form) => {
          const page = await call(`/session/report?token=${encodeURIComponent(token)}`)
          expect(page.status).toBe(400)
          expect(await page.json()).toMatchObject({ error: 'report_link_invalid' })
          const posted = await call('/session/report', {
            method: 'POST',
            headers: form ? { 'content-type': 'application/x-www-form-urlencoded' } : {},
            body: form
              ? new URLSearchParams({ token }).toString()
              : JSON.stringify({ token, others: token.length % 2 === 0 }),
          })
          expect(posted.status).toBe(400)
          const answer = await posted.json()
          expect(answer.error).toMatch(/^(report_link_invalid|invalid_request)$/)
          expect(findLeaks(JSON.stringify(answer))).toEqual([])
          if (token.length > 3) expect(JSON.stringify(answer)).not.toContain(token)
        }),
        { numRuns: 40 },
      )
    })

    it.each([
      ['malformed JSON', '{"token": ', 'application/json'],
      ['a JSON array', '[1]', 'application/json'],
      ['others not a boolean', '{"token": "swr_x", "others": "maybe"}', 'application/json'],
      ['a token that is not a string', '{"token": 7}', 'application/json'],
      ['no body at all', '', 'text/plain'],
      ['a 10 KB body', `token=${'a'.repeat(10 * 1024)}`, 'application/x-www-form-urlencoded'],
    ])('POST /session/report with %s answers 400 JSON', async (_name, body, type) => {
      const { call } = await testApp(db, { newDevice })
      const response = await call('/session/report', {
        method: 'POST',
        body,
        headers: { 'content-type': type },
      })
      expect(response.status).toBe(400)
      expect(await response.json()).toMatchObject({ error: 'invalid_request' })
    })
  })
}
