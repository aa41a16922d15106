import { beforeEach, expect, it, vi } from 'vitest'
import { CHROME_120, CHROME_121, testApp } from './test-support/app.ts'
import { at, useFakeClock } from './test-support/clock.ts'
import { onEachDatabase, type TestDatabase } from './test-support/db.ts'

// Counts user-agent parses: the parser is wrapped, not replaced, so the binding still decides.
const parses = vi.hoisted(() => ({ count: 0 }))
vi.mock('ua-parser-js', async (importOriginal) => {
  const { default: UAParser } = await importOriginal<{ default: typeof import('ua-parser-js') }>()
  function CountingParser(raw?: string) {
    parses.count++
    return new UAParser(raw)
  }
  return { default: CountingParser }
})

onEachDatabase((open) => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await open()
  })
  useFakeClock()

  it('defect 5: after a browser update the new user agent is parsed once, then adopted', async () => {
    const { settled, login, call } = await testApp(db)
    const alice = await login('alice', CHROME_120)
    parses.count = 0
    for (let i = 0; i < 100; i++) {
      const response = await call('/api/me', { token: alice.token, userAgent: CHROME_121 })
      expect(response.status).toBe(200)
    }
    at(6) // the row is re-read (cacheTtl): it still says Chrome 120 until the next write
    expect((await call('/api/me', { token: alice.token, userAgent: CHROME_121 })).status).toBe(200)
    at(61) // the activity write is due: it carries the adopted user agent
    expect((await call('/api/me', { token: alice.token, userAgent: CHROME_121 })).status).toBe(200)
    // One comparison (the stored and the new string) for 102 requests.
    expect(parses.count).toBeLessThanOrEqual(2)
    await settled() // no answer waits for its activity write (defect 6)
    const [row] = await db.sql<{ user_agent: string }>(
      'select user_agent from sessionward_session where id = ?',
      [alice.id],
    )
    expect(row?.user_agent).toBe(CHROME_121)
  })
})
