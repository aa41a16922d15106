import fc from 'fast-check'
import type { Context } from 'hono'
import { parse } from 'hono/utils/cookie'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import type { ResolvedOptions, WardOptions } from './options.ts'
import { CHROME_120, testApp } from './test-support/app.ts'
import { type TestDatabase, testDatabase } from './test-support/db.ts'
import { cookieValue, readCredentials } from './transport.ts'

const ORIGIN = 'http://localhost'

function sessionCookie(response: Response): string {
  const header = response.headers.get('set-cookie') ?? ''
  const match = /__Host-sessionward=([^;]+)/.exec(header)
  if (!match?.[1]) throw new Error(`no session cookie in ${header}`)
  return match[1]
}

describe('cookie transport', () => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await testDatabase('PGlite')
    await db.reset()
  })

  it('login sets a __Host- cookie: HttpOnly, Secure, SameSite=Lax, Path=/', async () => {
    const { app } = await testApp(db)
    const response = await app.request('/login', {
      method: 'POST',
      body: JSON.stringify({ userId: 'alice' }),
      headers: { 'content-type': 'application/json', 'user-agent': CHROME_120 },
    })
    const header = response.headers.get('set-cookie') ?? ''
    expect(header).toMatch(/^__Host-sessionward=swt_[A-Za-z0-9_-]{43};/)
    for (const attribute of ['HttpOnly', 'Secure', 'SameSite=Lax', 'Path=/', 'Max-Age=43200']) {
      expect(header).toContain(attribute)
    }
  })

  it('authenticates with the cookie and checks Origin on state-changing requests', async () => {
    const { app, login } = await testApp(db)
    await login('bob')
    const loginResponse = await app.request('/login', {
      method: 'POST',
      body: JSON.stringify({ userId: 'alice' }),
      headers: { 'content-type': 'application/json', 'user-agent': CHROME_120 },
    })
    const cookie = `__Host-sessionward=${sessionCookie(loginResponse)}`
    const headers = { cookie, 'user-agent': CHROME_120 }
    expect(await (await app.request('/api/me', { headers })).json()).toEqual({ userId: 'alice' })

    const crossSite = await app.request('/session/logout', {
      method: 'POST',
      headers: { ...headers, origin: 'https://evil.example' },
    })
    expect(crossSite.status).toBe(403)
    expect(await crossSite.json()).toMatchObject({ error: 'origin_rejected' })
    const noOrigin = await app.request('/session/logout', { method: 'POST', headers })
    expect(noOrigin.status).toBe(403)
    expect((await app.request('/api/me', { headers })).status).toBe(200)

    const sameOrigin = await app.request(`${ORIGIN}/session/logout`, {
      method: 'POST',
      headers: { ...headers, origin: ORIGIN },
    })
    expect(sameOrigin.status).toBe(204)
    expect(sameOrigin.headers.get('set-cookie')).toMatch(/__Host-sessionward=;.*Max-Age=0/)
    expect((await app.request('/api/me', { headers })).status).toBe(401)
  })

  it('accepts a trusted origin and Sec-Fetch-Site: same-origin', async () => {
    const { app } = await testApp(db, { trustedOrigins: ['https://app.example'] })
    const loginResponse = await app.request('/login', {
      method: 'POST',
      body: JSON.stringify({ userId: 'alice' }),
      headers: { 'content-type': 'application/json', 'user-agent': CHROME_120 },
    })
    const headers = {
      cookie: `__Host-sessionward=${sessionCookie(loginResponse)}`,
      'user-agent': CHROME_120,
      'content-type': 'application/json',
    }
    const trusted = await app.request('/session/ping', {
      method: 'POST',
      body: '{"idleFor":1}',
      headers: { ...headers, origin: 'https://app.example' },
    })
    expect(trusted.status).toBe(200)
    const fetchMetadata = await app.request('/session/ping', {
      method: 'POST',
      body: '{"idleFor":1}',
      headers: { ...headers, 'sec-fetch-site': 'same-origin' },
    })
    expect(fetchMetadata.status).toBe(200)
  })

  it('an ended session’s cookie keeps answering its reason until logout clears it', async () => {
    const { app, call, login } = await testApp(db)
    const loginResponse = await app.request('/login', {
      method: 'POST',
      body: JSON.stringify({ userId: 'alice' }),
      headers: { 'content-type': 'application/json', 'user-agent': CHROME_120 },
    })
    const cookie = `__Host-sessionward=${sessionCookie(loginResponse)}`
    const other = await login('alice')
    const { sessions } = await (await call('/session/sessions', { token: other.token })).json()
    const cookieSession = sessions.find((s: { current: boolean }) => !s.current)
    await call(`/session/sessions/${cookieSession.id}`, { method: 'DELETE', token: other.token })
    const headers = { cookie, 'user-agent': CHROME_120, origin: ORIGIN }
    for (const path of ['/api/poll', '/api/me', '/session/ping']) {
      const response = await app.request(`${ORIGIN}${path}`, {
        method: path === '/session/ping' ? 'POST' : 'GET',
        body: path === '/session/ping' ? '{"idleFor":0}' : undefined,
        headers,
      })
      expect(await response.json()).toMatchObject({ error: 'session_ended', reason: 'revoked' })
      expect(response.headers.get('set-cookie')).toBeNull()
    }
    const logout = await app.request(`${ORIGIN}/session/logout`, { method: 'POST', headers })
    expect(logout.status).toBe(204)
    expect(logout.headers.get('set-cookie')).toMatch(/__Host-sessionward=;.*Max-Age=0/)
  })

  it('an unknown cookie is cleared at once', async () => {
    const { app } = await testApp(db)
    const response = await app.request('/api/me', {
      headers: { cookie: `__Host-sessionward=swt_${'A'.repeat(43)}`, 'user-agent': CHROME_120 },
    })
    expect(response.status).toBe(401)
    expect(response.headers.get('set-cookie')).toMatch(/__Host-sessionward=;.*Max-Age=0/)
  })

  it('cookie: false turns the cookie off', async () => {
    const { app } = await testApp(db, { cookie: false })
    const response = await app.request('/login', {
      method: 'POST',
      body: JSON.stringify({ userId: 'alice' }),
      headers: { 'content-type': 'application/json', 'user-agent': CHROME_120 },
    })
    expect(response.headers.get('set-cookie')).toBeNull()
  })
})

describe('a Secure cookie set over plain HTTP', () => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await testDatabase('PGlite')
    await db.reset()
  })

  /** Logs in twice at `url` and returns what the ward warned. */
  async function warningsFor(
    url: string,
    headers: Record<string, string> = {},
    options: WardOptions = {},
  ): Promise<string[]> {
    const logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn() }
    const { app } = await testApp(db, { ...options, logger })
    for (const userId of ['alice', 'bob']) {
      const response = await app.request(url, {
        method: 'POST',
        body: JSON.stringify({ userId }),
        headers: { 'content-type': 'application/json', 'user-agent': CHROME_120, ...headers },
      })
      expect(response.status).toBe(200)
    }
    return logger.warn.mock.calls.map((call) => String(call[0]))
  }

  it('is logged once per ward, saying why sign-in will not stick and what to do', async () => {
    const warnings = await warningsFor('http://app.example.test/login')
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('http://app.example.test')
    expect(warnings[0]).toContain('browsers drop a Secure cookie set over http')
    expect(warnings[0]).toContain('serve the app over HTTPS')
    expect(warnings[0]).toContain("cookie: { secure: false, name: 'sessionward' }")
    expect(warnings[0]).not.toMatch(/swt_|[0-9a-f]{64}/)
  })

  it('issue 20 defect 6: points to the origin option, for TLS ended at a proxy (X-Forwarded-Proto or not)', async () => {
    for (const headers of [{}, { 'x-forwarded-proto': 'https' }] as Record<string, string>[]) {
      const warnings = await warningsFor('http://app.example.test/login', headers)
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toContain('Behind a TLS-terminating proxy')
      expect(warnings[0]).toContain("createWard({ origin: 'https://app.example.test' })")
      expect(warnings[0]).toContain('403 origin_rejected')
    }
  })

  it('names a plain-http origin of the origin option, where browsers will drop the cookie', async () => {
    const options = { origin: ['https://app.example.test', 'http://staging.example.test'] }
    const warnings = await warningsFor('https://app.example.test/login', {}, options)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain("the app's origin http://staging.example.test is plain http")
    expect(warnings[0]).toContain('browsers drop a Secure cookie set over http')
    expect(warnings[0]).not.toContain('TLS-terminating proxy')
  })

  it('is not logged on localhost, where browsers accept Secure cookies over http', async () => {
    for (const host of ['localhost', '127.0.0.1', '[::1]', 'app.localhost']) {
      expect(await warningsFor(`http://${host}:3000/login`)).toEqual([])
    }
  })

  it('is not logged over https, behind a TLS proxy named by origin, or with secure: false', async () => {
    expect(await warningsFor('https://app.example.test/login')).toEqual([])
    const named = { origin: 'https://app.example.test' }
    expect(await warningsFor('http://app.example.test/login', {}, named)).toEqual([])
    const insecure = { cookie: { secure: false, name: 'sessionward' } }
    expect(await warningsFor('http://app.example.test/login', {}, insecure)).toEqual([])
  })
})

describe('the Authorization header', () => {
  // The grammar, `<scheme> +<token> *`, as a regular expression: the oracle of the hand-written
  // reader (which runs on every request and so avoids a match array).
  const GRAMMAR = /^(Bearer|Token) +(\S+) *$/i
  const withHeader = (value: string) =>
    ({ env: { incoming: { rawHeaders: ['Authorization', value] } } }) as unknown as Context
  const noCookie = { cookie: null } as unknown as ResolvedOptions

  it('reads exactly what the grammar accepts, and the same token', () => {
    const piece = fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Token', 'tOKEN', 'Basic', 'Bear')
    const gap = fc.constantFrom('', ' ', '  ', '\t', ' \t', '\n')
    const word = fc.stringMatching(/^[A-Za-z0-9._~+/=-]{0,12}$/)
    const value = fc
      .tuple(piece, gap, word, gap, word, gap)
      .map(([scheme, a, token, b, more, c]) => `${scheme}${a}${token}${b}${more}${c}`)
    fc.assert(
      fc.property(fc.oneof(value, fc.string()), (header) => {
        const match = GRAMMAR.exec(header)
        const read = readCredentials(withHeader(header), noCookie)
        expect(read).toEqual(
          match?.[1] && match[2]
            ? {
                kind: 'token',
                token: match[2],
                source: match[1].toLowerCase() === 'bearer' ? 'bearer' : 'token',
              }
            : { kind: 'malformed' },
        )
      }),
      { numRuns: 2000 },
    )
  })
})

describe('the Cookie header', () => {
  // hono's own parser is the oracle: the hand-written reader walks the header in place because
  // it runs on every cookie request, and must give the value hono's `getCookie` would.
  const NAME = '__Host-sessionward'
  it("reads the session cookie's value exactly as hono's parse does", () => {
    const name = fc.constantFrom(NAME, ` ${NAME}`, `${NAME}\t`, `${NAME}x`, `x${NAME}`, 'theme', '')
    const value = fc.oneof(
      fc.constantFrom(
        'swt_abc',
        '"swt_abc"',
        '"',
        '""',
        '%41b',
        '%zz',
        'a b',
        ' a ',
        'a\\b',
        'a"b',
      ),
      // Percent-escapes: valid, malformed, and a cut UTF-8 sequence beside a whole one.
      fc.constantFrom('%41%zz%42', '%E2%82', '%E2%82%AC', '%E2%82x%E2%82%AC', 'a%2', '%%41'),
      fc.string({ maxLength: 8 }),
    )
    const pair = fc.oneof(
      fc.tuple(name, fc.constantFrom('=', ' = ', '=='), value).map((parts) => parts.join('')),
      fc.string({ maxLength: 6 }),
    )
    const header = fc
      .tuple(fc.array(pair, { maxLength: 5 }), fc.constantFrom(';', '; ', ';\t', ' ;'))
      .map(([pairs, separator]) => pairs.join(separator))
    fc.assert(
      fc.property(header, (cookies) => {
        expect(cookieValue(cookies, NAME)).toBe(parse(cookies, NAME)[NAME])
      }),
      { numRuns: 5000 },
    )
  })
})
