import { beforeEach, describe, expect, it, vi } from 'vitest'
import type { WardOptions } from './options.ts'
import { CHROME_120, type TestApp, testApp } from './test-support/app.ts'
import { onEachDatabase, type TestDatabase, testDatabase } from './test-support/db.ts'

// The app as the browser sees it, and as Node sees it behind a TLS-terminating proxy.
const PUBLIC = 'https://app.example'
const BEHIND_PROXY = 'http://app.example'

type Action = 'login' | 'logout' | 'ping' | 'revoke'
const ACTIONS: Action[] = ['login', 'logout', 'ping', 'revoke']
const SUCCESS: Record<Action, string> = {
  login: '200',
  logout: '204',
  ping: '200',
  revoke: '204',
}
const REJECTED = '403 origin_rejected'

/** One cell of the matrix: the request's URL origin and its Origin header (absent: undefined). */
type Row = [url: string, origin: string | undefined]
const ROWS: Row[] = [
  [BEHIND_PROXY, PUBLIC],
  [BEHIND_PROXY, BEHIND_PROXY],
  [BEHIND_PROXY, 'https://evil.example'],
  [BEHIND_PROXY, undefined],
  [BEHIND_PROXY, 'null'],
  [PUBLIC, PUBLIC],
  [PUBLIC, BEHIND_PROXY],
  [PUBLIC, 'https://evil.example'],
  [PUBLIC, undefined],
  [PUBLIC, 'null'],
]

const label = ([url, origin]: Row): string => `${url} ← Origin: ${origin ?? '(absent)'}`

/**
 * What a user sees for each row: `allowed` is the rows let through. A login with no Origin and
 * no fetch metadata is an API client (no victim's cookie jar to fill), so it passes everywhere.
 */
function expected(action: Action, allowed: Row[]): Record<string, string> {
  return Object.fromEntries(
    ROWS.map((row) => {
      const pass =
        allowed.some((a) => label(a) === label(row)) || (action === 'login' && row[1] === undefined)
      return [label(row), pass ? SUCCESS[action] : REJECTED]
    }),
  )
}

/** `status` and, on a refusal, ` error`: what the browser's script would read. */
async function outcome(response: Response): Promise<string> {
  if (response.status < 400) return String(response.status)
  const body = (await response.json()) as { error?: string }
  return `${response.status} ${body.error}`
}

/** Sends `action` with the session cookie (a fresh session, since logout and revoke end one). */
async function attempt(app: TestApp, action: Action, [url, origin]: Row): Promise<string> {
  const headers: Record<string, string> = {
    'user-agent': CHROME_120,
    'content-type': 'application/json',
    ...(origin === undefined ? {} : { origin }),
  }
  if (action === 'login') {
    const body = JSON.stringify({ userId: 'alice' })
    return outcome(await app.app.request(`${url}/login`, { method: 'POST', body, headers }))
  }
  const { token } = await app.login('alice')
  const cookie = { ...headers, cookie: `__Host-sessionward=${token}` }
  if (action === 'revoke') {
    const other = await app.login('alice')
    const path = `${url}/session/sessions/${other.id}`
    return outcome(await app.app.request(path, { method: 'DELETE', headers: cookie }))
  }
  const body = action === 'ping' ? '{"idleFor":0}' : undefined
  const path = `${url}/session/${action}`
  return outcome(await app.app.request(path, { method: 'POST', body, headers: cookie }))
}

async function matrix(app: TestApp, action: Action): Promise<Record<string, string>> {
  const seen: Record<string, string> = {}
  for (const row of ROWS) seen[label(row)] = await attempt(app, action, row)
  return seen
}

const quietLogger = () => ({ info: vi.fn(), warn: vi.fn(), error: vi.fn() })

onEachDatabase((open) => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await open()
  })

  const ward = (options: WardOptions = {}) => testApp(db, { logger: quietLogger(), ...options })

  describe('issue 20 defect 6: behind a TLS-terminating proxy, cookie requests are refused', () => {
    it('Node sees http://app.example, the browser sends Origin: https://app.example: with origin set, login, ping, revoke and logout pass', async () => {
      const app = await ward({ origin: PUBLIC })
      for (const action of ACTIONS) {
        expect(await attempt(app, action, [BEHIND_PROXY, PUBLIC]), action).toBe(SUCCESS[action])
      }
    })

    describe.each(ACTIONS)('%s with the session cookie', (action) => {
      it('origin not set: only the request URL’s own origin passes (a proxy’s https Origin is refused)', async () => {
        const app = await ward()
        expect(await matrix(app, action)).toEqual(
          expected(action, [
            [BEHIND_PROXY, BEHIND_PROXY],
            [PUBLIC, PUBLIC],
          ]),
        )
      })

      it('origin: "https://app.example": only that origin passes, whatever URL Node sees', async () => {
        const app = await ward({ origin: PUBLIC })
        expect(await matrix(app, action)).toEqual(
          expected(action, [
            [BEHIND_PROXY, PUBLIC],
            [PUBLIC, PUBLIC],
          ]),
        )
      })
    })

    it('a list of origins: each passes; trustedOrigins still adds to them', async () => {
      const app = await ward({
        origin: [PUBLIC, 'https://www.app.example'],
        trustedOrigins: ['https://admin.example'],
      })
      for (const origin of [PUBLIC, 'https://www.app.example', 'https://admin.example']) {
        expect(await attempt(app, 'ping', [BEHIND_PROXY, origin]), origin).toBe('200')
      }
      expect(await attempt(app, 'ping', [BEHIND_PROXY, 'https://evil.example'])).toBe(REJECTED)
    })

    it('ward.signIn and ward.authenticate on a plain Request follow the option too', async () => {
      const proxied = (path: string, headers: Record<string, string> = {}) =>
        new Request(`${BEHIND_PROXY}${path}`, {
          method: 'POST',
          headers: { origin: PUBLIC, 'user-agent': CHROME_120, ...headers },
        })
      const refused = await (await ward()).ward.signIn(proxied('/login'), 'alice')
      expect('problem' in refused && refused.problem).toMatchObject({
        status: 403,
        error: 'origin_rejected',
      })

      const { ward: configured } = await ward({ origin: PUBLIC })
      const signedIn = await configured.signIn(proxied('/login'), 'alice')
      if ('problem' in signedIn) throw new Error(`refused: ${signedIn.problem.error}`)
      const cookie = { cookie: `__Host-sessionward=${signedIn.token}` }
      const authenticated = await configured.authenticate(proxied('/api/me', cookie))
      expect('session' in authenticated && authenticated.session.userId).toBe('alice')
      const forged = await configured.authenticate(
        proxied('/api/me', { ...cookie, origin: BEHIND_PROXY }),
      )
      expect('problem' in forged && forged.problem.error).toBe('origin_rejected')
    })
  })
})

describe('issue 20 defect 6: the logs point to the origin option', () => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await testDatabase('PGlite')
    await db.reset()
  })

  async function warnings(options: WardOptions, requests: [Row, Action][]): Promise<string[]> {
    const logger = quietLogger()
    const app = await testApp(db, { ...options, logger })
    for (const [row, action] of requests) await attempt(app, action, row)
    return logger.warn.mock.calls.map((call) => String(call[0]))
  }

  it('a refused https Origin on the http URL of the same host is logged once, naming the option', async () => {
    const proxied: [Row, Action] = [[BEHIND_PROXY, PUBLIC], 'ping']
    const seen = await warnings({}, [proxied, proxied, [[BEHIND_PROXY, PUBLIC], 'login']])
    const hints = seen.filter((line) => line.includes('origin_rejected'))
    expect(hints).toHaveLength(1)
    expect(hints[0]).toContain("createWard({ origin: 'https://app.example' })")
    expect(hints[0]).toContain('TLS-terminating proxy')
  })

  it('where the proxy rewrote Host, its X-Forwarded-Host names the app’s host', async () => {
    const logger = quietLogger()
    const { app } = await testApp(db, { logger })
    const response = await app.request('http://127.0.0.1:3000/login', {
      method: 'POST',
      body: JSON.stringify({ userId: 'alice' }),
      headers: { origin: PUBLIC, 'x-forwarded-host': 'app.example', 'user-agent': CHROME_120 },
    })
    expect(response.status).toBe(403)
    expect(logger.warn.mock.calls.map((call) => String(call[0]))).toEqual([
      expect.stringContaining("createWard({ origin: 'https://app.example' })"),
    ])
  })

  it('a cross-site Origin is refused without that hint, and nothing is logged with the option set', async () => {
    expect(await warnings({}, [[[BEHIND_PROXY, 'https://evil.example'], 'ping']])).toEqual([])
    expect(await warnings({ origin: PUBLIC }, [[[BEHIND_PROXY, PUBLIC], 'ping']])).toEqual([])
  })
})
