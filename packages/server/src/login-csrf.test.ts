import { beforeEach, describe, expect, it } from 'vitest'
import type { WardOptions } from './options.ts'
import { testApp } from './test-support/app.ts'
import { onEachDatabase, type TestDatabase } from './test-support/db.ts'

// What a cross-site page can make a victim's browser send: a form with enctype text/plain
// whose single field spells a JSON body, posted to the app's login route.
const FORGED_BODY = JSON.stringify({ userId: 'mallory' })

onEachDatabase((open) => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await open()
  })

  async function loginWith(headers: Record<string, string>, options: WardOptions = {}) {
    const { call } = await testApp(db, options)
    return call('/login', {
      method: 'POST',
      body: FORGED_BODY,
      headers: { 'content-type': 'text/plain', ...headers },
    })
  }

  async function liveSessions() {
    const [row] = await db.sql<{ n: number }>(
      'select count(*)::int as n from sessionward_session where ended_at is null',
    )
    return row?.n
  }

  describe('defect 12: login CSRF — createSession refuses a cross-origin request', () => {
    it.each([
      ['a cross-site Origin', { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }],
      ['a sibling origin', { origin: 'http://other.localhost' }],
      ['Origin: null (a sandboxed frame)', { origin: 'null' }],
      ['no Origin but Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
      ['no Origin but Sec-Fetch-Site: same-site', { 'sec-fetch-site': 'same-site' }],
    ])('%s: 403 origin_rejected, no cookie, no session', async (_name, headers) => {
      const response = await loginWith(headers)
      expect(response.status).toBe(403)
      expect(response.headers.get('content-type')).toMatch(/^application\/json/)
      expect(await response.json()).toMatchObject({ error: 'origin_rejected' })
      expect(response.headers.get('set-cookie')).toBeNull()
      expect(await liveSessions()).toBe(0)
    })

    it.each([
      ['the app’s own Origin', { origin: 'http://localhost', 'sec-fetch-site': 'same-origin' }],
      ['no Origin, Sec-Fetch-Site: same-origin', { 'sec-fetch-site': 'same-origin' }],
      // A form posted under `Referrer-Policy: no-referrer` (the demo's) carries `Origin: null`.
      [
        'Origin: null from a same-origin form (no-referrer)',
        { origin: 'null', 'sec-fetch-site': 'same-origin' },
      ],
      ['no Origin and no fetch metadata (not a browser)', {}],
    ])('%s: 200 with the cookie', async (_name, headers) => {
      const response = await loginWith(headers)
      expect(response.status).toBe(200)
      expect(response.headers.get('set-cookie')).toMatch(/^__Host-sessionward=swt_/)
    })

    it('a trusted origin may sign in', async () => {
      const response = await loginWith(
        { origin: 'https://app.example' },
        { trustedOrigins: ['https://app.example'] },
      )
      expect(response.status).toBe(200)
    })

    it('with cookies off nothing is set in the victim’s browser, so any origin may sign in', async () => {
      const response = await loginWith({ origin: 'https://evil.example' }, { cookie: false })
      expect(response.status).toBe(200)
      expect(response.headers.get('set-cookie')).toBeNull()
    })

    it('a GET login (an OAuth callback, a magic link) arrives cross-site and is allowed', async () => {
      const { ward, app, call } = await testApp(db)
      app.get('/callback', async (c) => c.json(await ward.createSession(c, 'alice')))
      const response = await call('/callback', { headers: { 'sec-fetch-site': 'cross-site' } })
      expect(response.status).toBe(200)
    })
  })
})
