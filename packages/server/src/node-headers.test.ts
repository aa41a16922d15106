import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CHROME_120, CHROME_121, FIREFOX_120, type TestApp, testApp } from './test-support/app.ts'
import { onEachDatabase, type TestDatabase } from './test-support/db.ts'
import { rawRequest } from './test-support/raw-http.ts'

// Over @hono/node-server the ward reads Authorization, Cookie and User-Agent from the Node
// request's raw header list (no Fetch Headers built on a cache hit): the answers must be the ones
// the Fetch API's view of the same bytes gives, repeated fields included.
onEachDatabase((open) => {
  let db: TestDatabase
  let t: TestApp
  let server: ReturnType<typeof serve>
  let port: number
  beforeEach(async () => {
    db = await open()
    t = await testApp(db)
    server = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port: 0 })
    await new Promise<void>((resolve) => server.once('listening', () => resolve()))
    port = (server.address() as AddressInfo).port
  })
  afterEach(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  /** GET /api/me over a socket with these header lines; the status and JSON body. */
  async function me(lines: string[]): Promise<{ status: number; body: unknown }> {
    const head = ['GET /api/me HTTP/1.1', 'Host: 127.0.0.1', 'Connection: close', ...lines]
    const { answer } = await rawRequest(port, Buffer.from(`${head.join('\r\n')}\r\n\r\n`), {
      timeoutMs: 10_000,
    })
    return { status: answer?.status ?? 0, body: JSON.parse(answer?.body.toString() ?? 'null') }
  }

  describe('headers read from the Node request', () => {
    it('a token and user agent over a socket: the session, a cache hit as in process', async () => {
      const alice = await t.login('alice')
      for (let i = 0; i < 2; i++) {
        const answer = await me([
          `User-Agent: ${CHROME_120}`,
          `Authorization: Bearer ${alice.token}`,
        ])
        expect(answer).toEqual({ status: 200, body: { userId: 'alice' } })
      }
      // Header names in any case, as HTTP allows.
      const shouted = await me([
        `USER-AGENT: ${CHROME_120}`,
        `authorization: Bearer ${alice.token}`,
      ])
      expect(shouted).toEqual({ status: 200, body: { userId: 'alice' } })
    })

    it('a repeated Authorization is one joined value, malformed, as the Fetch API reads it', async () => {
      const alice = await t.login('alice')
      const repeated = await me([
        `User-Agent: ${CHROME_120}`,
        `Authorization: Bearer ${alice.token}`,
        `Authorization: Bearer ${alice.token}`,
      ])
      expect(repeated.status).toBe(401)
      expect(repeated.body).toMatchObject({ error: 'unauthenticated' })
      const inProcess = await t.app.request('/api/me', {
        headers: [
          ['user-agent', CHROME_120],
          ['authorization', `Bearer ${alice.token}`],
          ['authorization', `Bearer ${alice.token}`],
        ],
      })
      expect({ status: inProcess.status, body: await inProcess.json() }).toEqual(repeated)
    })

    it('a session cookie among others, and in two Cookie lines, as the Fetch API joins them', async () => {
      const alice = await t.login('alice')
      const cookie = `__Host-sessionward=${alice.token}`
      const among = await me([`User-Agent: ${CHROME_120}`, `Cookie: theme=dark; ${cookie}; _ga=1`])
      expect(among).toEqual({ status: 200, body: { userId: 'alice' } })
      // Repeated Cookie fields are one list joined with "; " (HTTP/2 sends one field per cookie).
      const lines = [`User-Agent: ${CHROME_120}`, 'Cookie: theme=dark', `Cookie: ${cookie}`]
      const split = await me(lines)
      expect(split).toEqual({ status: 200, body: { userId: 'alice' } })
      const inProcess = await t.app.request('/api/me', {
        headers: [
          ['user-agent', CHROME_120],
          ['cookie', 'theme=dark'],
          ['cookie', cookie],
        ],
      })
      expect({ status: inProcess.status, body: await inProcess.json() }).toEqual(split)
      // The value as a Fetch view reads it: quotes taken off, percent-escapes decoded.
      const quoted = await me([
        `User-Agent: ${CHROME_120}`,
        `Cookie: __Host-sessionward="${alice.token}"`,
      ])
      expect(quoted).toEqual({ status: 200, body: { userId: 'alice' } })
    })

    it('the user-agent binding sees the header as sent: another browser ends the session', async () => {
      const alice = await t.login('alice')
      const updated = await me([
        `User-Agent: ${CHROME_121}`,
        `Authorization: Bearer ${alice.token}`,
      ])
      expect(updated.status).toBe(200)
      const other = await me([`User-Agent: ${FIREFOX_120}`, `Authorization: Bearer ${alice.token}`])
      expect(other).toEqual({
        status: 401,
        body: expect.objectContaining({ error: 'session_ended', reason: 'user_agent_changed' }),
      })
    })
  })
})
