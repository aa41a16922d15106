import { beforeEach, describe, expect, it } from 'vitest'
import { testApp } from './test-support/app.ts'
import { at, useFakeClock } from './test-support/clock.ts'
import { onEachDatabase, type TestDatabase } from './test-support/db.ts'
import { generateToken } from './tokens.ts'

/** How many times a session row was read by its token hash (a cache miss or a re-read). */
const tokenReads = (db: TestDatabase) =>
  db.queries.filter((q) => /from sessionward_session where token_hash = /.test(q)).length

/** Logs in `count` users (one session each), one after another; returns their tokens. */
async function logins(login: (userId: string) => Promise<{ token: string }>, count: number) {
  const tokens: string[] = []
  for (let i = 0; i < count; i++) tokens.push((await login(`user-${i}`)).token)
  return tokens
}

const statuses = (responses: Response[]) => responses.map((response) => response.status)

onEachDatabase((open) => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await open()
  })
  useFakeClock()

  describe('issue 20 defect 2: misses and loads in flight share the session LRU', () => {
    it('50 unknown tokens at once leave the 50 cached sessions cached', async () => {
      // No guess throttle: the unknown tokens must all reach the cache.
      const { call, login } = await testApp(db, {
        cacheSize: 50,
        throttle: { tokenGuesses: false },
      })
      const tokens = await logins(login, 50)
      const unknown = await Promise.all(
        Array.from({ length: 50 }, () => call('/api/me', { token: generateToken() })),
      )
      expect(statuses(unknown)).toEqual(Array(50).fill(401))
      db.queries.length = 0
      const known = await Promise.all(tokens.map((token) => call('/api/me', { token })))
      expect(statuses(known)).toEqual(Array(50).fill(200))
      // Every one a cache hit: no row read again.
      expect(tokenReads(db)).toBe(0)
    })

    it.each([
      { route: 'GET /api/me', path: '/api/me', init: {} },
      {
        route: 'POST /session/ping',
        path: '/session/ping',
        init: { method: 'POST', body: '{"idleFor":0}' },
      },
    ])(
      '80 sessions re-read at once with cacheSize 50 all answer 200 on $route, each read once',
      async ({ path, init }) => {
        const { call, login } = await testApp(db, { cacheSize: 50, cacheTtl: 5 })
        const tokens = await logins(login, 80)
        at(6) // past cacheTtl: every request re-reads its row
        db.queries.length = 0
        // Two requests per token at once: they share one read of the row.
        const twice = [...tokens, ...tokens]
        const answers = await Promise.all(twice.map((token) => call(path, { ...init, token })))
        expect(statuses(answers)).toEqual(Array(160).fill(200))
        expect(tokenReads(db)).toBe(80)
      },
    )
  })
})
