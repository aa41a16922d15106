import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Context, Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { WardEnv } from './middleware.ts'
import { resolveOptions } from './options.ts'
import { type TestApp, testApp } from './test-support/app.ts'
import { at, useFakeClock } from './test-support/clock.ts'
import {
  onEachDatabase,
  pgliteForEachTest,
  type TestDatabase,
  testDatabase,
} from './test-support/db.ts'
import { redisSkipReason } from './test-support/instances.ts'
import { stallProxy } from './test-support/stall-proxy.ts'
import { addressKey, createThrottles } from './throttle.ts'
import { DEFAULT_THROTTLE } from './throttle-options.ts'
import { generateToken } from './tokens.ts'
import { createWard, type Ward } from './ward.ts'

/** Tests name the client's address in a header (behind a proxy, apps do the same). */
const clientIp = (c: Context) => c.req.header('x-client-ip')
const from = (ip: string) => ({ 'x-client-ip': ip })

describe('the throttle option', () => {
  it('defaults to the documented limits', () => {
    expect(resolveOptions().throttle).toEqual({
      tokenGuesses: { points: 30, duration: 60 },
      logins: { perAccount: { points: 10, duration: 900 }, perIp: { points: 100, duration: 3600 } },
    })
    expect(resolveOptions().throttle).toEqual(DEFAULT_THROTTLE)
  })

  it('turns limiters off with false and keeps the default half of a partial limit', () => {
    expect(resolveOptions({ throttle: false }).throttle).toEqual({
      tokenGuesses: null,
      logins: { perAccount: null, perIp: null },
    })
    expect(
      resolveOptions({ throttle: { tokenGuesses: false, logins: { perIp: { points: 5 } } } })
        .throttle,
    ).toEqual({
      tokenGuesses: null,
      logins: { perAccount: { points: 10, duration: 900 }, perIp: { points: 5, duration: 3600 } },
    })
  })

  it.each([
    [{ throttle: true }, 'throttle must be false or an object { tokenGuesses, logins }, got true'],
    [
      { throttle: { tokenGuess: false } },
      'throttle: unknown option "tokenGuess" — did you mean "tokenGuesses"?',
    ],
    [
      { throttle: { tokenGuesses: { points: 0 } } },
      'throttle.tokenGuesses.points must be a whole number of failures from 1 to 1000000, got 0',
    ],
    [
      { throttle: { logins: { perAccount: { duration: 1.5 } } } },
      'throttle.logins.perAccount.duration must be a whole number of seconds from 1 to 2147483, got 1.5',
    ],
    [
      { throttle: { logins: { perIp: { points: '10' } } } },
      'throttle.logins.perIp.points must be a whole number of failures from 1 to 1000000, got the string "10"',
    ],
    [
      { throttle: { logins: { perIp: 10 } } },
      'throttle.logins.perIp must be false or an object { points, duration }, got 10',
    ],
    [
      { throttle: { logins: [] } },
      'throttle.logins must be false or an object { perAccount, perIp }, got an array',
    ],
  ])('refuses %j at build time', async (options, message) => {
    expect(() => resolveOptions(options as never)).toThrow(`sessionward: ${message}`)
    await expect(createWard(options as never)).rejects.toThrow(`sessionward: ${message}`)
  })
})

describe('addressKey', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::203.0.113.7', '64:ff9b:0:0::/64'],
    ['proxy-label', 'proxy-label'],
  ])('counts %s as %s', (ip, key) => {
    expect(addressKey(ip)).toBe(key)
  })
})

onEachDatabase((open) => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await open()
  })
  useFakeClock()

  describe('token guesses', () => {
    const guess = (call: Awaited<ReturnType<typeof testApp>>['call'], ip: string) =>
      call('/api/me', { token: generateToken(), headers: from(ip) })

    it('after N unknown tokens from one address: 429 with Retry-After, no lookup, until the window passes', async () => {
      const { call } = await testApp(db, {
        clientIp,
        throttle: { tokenGuesses: { points: 3, duration: 60 } },
      })
      for (let i = 0; i < 3; i++) expect((await guess(call, '203.0.113.1')).status).toBe(401)
      at(10)
      db.queries.length = 0
      const blocked = await guess(call, '203.0.113.1')
      expect(blocked.status).toBe(429)
      expect(blocked.headers.get('retry-after')).toBe('50')
      expect(blocked.headers.get('cache-control')).toBe('no-store')
      expect(await blocked.json()).toEqual({
        error: 'too_many_requests',
        message:
          'too many requests with unknown session tokens from this address; retry after 50 s',
      })
      expect(db.queries).toEqual([]) // refused before the database
      // Another address is not blocked.
      expect((await guess(call, '203.0.113.2')).status).toBe(401)
      at(59)
      expect((await guess(call, '203.0.113.1')).status).toBe(429)
      at(60)
      db.queries.length = 0
      expect((await guess(call, '203.0.113.1')).status).toBe(401)
      expect(db.queries.length).toBeGreaterThan(0) // looked up again
    })

    it('counts the addresses of one IPv6 /64 together: rotating within it gains nothing', async () => {
      const { call } = await testApp(db, {
        clientIp,
        throttle: { tokenGuesses: { points: 2, duration: 60 } },
      })
      expect((await guess(call, '2001:db8:5:6::1')).status).toBe(401)
      expect((await guess(call, '2001:db8:5:6::2')).status).toBe(401)
      expect((await guess(call, '2001:db8:5:6:ffff::3')).status).toBe(429)
      expect((await guess(call, '2001:db8:5:7::1')).status).toBe(401) // the next /64
    })

    it('counts unreadable tokens and Authorization headers, which never reach the store', async () => {
      const { call } = await testApp(db, {
        clientIp,
        throttle: { tokenGuesses: { points: 2, duration: 60 } },
      })
      const headers = { ...from('203.0.113.3') }
      expect((await call('/api/me', { token: 'not-a-token', headers })).status).toBe(401)
      const basic = { ...headers, authorization: 'Basic YWxpY2U6YWxpY2U=' }
      expect((await call('/api/me', { headers: basic })).status).toBe(401)
      expect((await call('/api/me', { token: 'not-a-token', headers })).status).toBe(429)
      // No token at all is not a guess: still the plain 401.
      expect((await call('/api/me', { headers: from('203.0.113.4') })).status).toBe(401)
    })

    it('does not count successful requests or missing tokens, and cached sessions pass while blocked', async () => {
      const { call, login } = await testApp(db, {
        clientIp,
        throttle: { tokenGuesses: { points: 3, duration: 60 } },
      })
      const { token } = await login('alice')
      const ip = '203.0.113.5'
      for (let i = 0; i < 2; i++) expect((await guess(call, ip)).status).toBe(401)
      for (let i = 0; i < 10; i++) {
        expect((await call('/api/me', { token, headers: from(ip) })).status).toBe(200)
        expect((await call('/api/me', { headers: from(ip) })).status).toBe(401)
      }
      expect((await guess(call, ip)).status).toBe(401) // the third failure
      expect((await guess(call, ip)).status).toBe(429)
      // A session the process already holds needs no lookup: its user is not refused.
      const me = await call('/api/me', { token, headers: from(ip) })
      expect(me.status).toBe(200)
      expect(await me.json()).toEqual({ userId: 'alice' })
    })

    it('turned off, or without a client address, never refuses a guess', async () => {
      const off = await testApp(db, { clientIp, throttle: { tokenGuesses: false } })
      const noAddress = await testApp(db, {
        clientIp: () => undefined,
        throttle: { tokenGuesses: { points: 1, duration: 60 } },
      })
      for (let i = 0; i < 5; i++) {
        expect((await guess(off.call, '203.0.113.6')).status).toBe(401)
        expect((await guess(noAddress.call, '203.0.113.6')).status).toBe(401)
      }
    })
  })
})

/** The lookups of a session by its token's hash that reached the store. */
const tokenLookups = (db: TestDatabase) =>
  db.queries.filter((q) => /\bselect\b.*\bwhere token_hash = /is.test(q)).length

/** How many answers had each status, and whether every 429 said when to come back. */
function tally(answers: Response[]) {
  const statuses = answers.map((answer) => answer.status)
  return {
    401: statuses.filter((status) => status === 401).length,
    429: statuses.filter((status) => status === 429).length,
    retryAfterOnEvery429: answers
      .filter((answer) => answer.status === 429)
      .every((answer) => Number(answer.headers.get('retry-after')) > 0),
  }
}

onEachDatabase((open) => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await open()
  })
  useFakeClock()

  describe('issue 20 defect 1: parallel guesses pass the token-guess throttle', () => {
    const limit = { clientIp, throttle: { tokenGuesses: { points: 30, duration: 60 } } }
    const guess = (call: TestApp['call'], ip: string) =>
      call('/api/me', { token: generateToken(), headers: from(ip) })

    it('300 unknown tokens at once from one address: 30 lookups reach the store, 270 answered 429', async () => {
      const { call } = await testApp(db, limit)
      db.queries.length = 0
      const answers = await Promise.all(
        Array.from({ length: 300 }, () => guess(call, '203.0.113.20')),
      )
      expect(tally(answers)).toEqual({ 401: 30, 429: 270, retryAfterOnEvery429: true })
      expect(tokenLookups(db)).toBe(30)
    })

    it('300 unknown tokens one at a time from one address: the same 30 lookups, 270 answered 429', async () => {
      const { call } = await testApp(db, limit)
      db.queries.length = 0
      const answers: Response[] = []
      for (let i = 0; i < 300; i++) answers.push(await guess(call, '203.0.113.21'))
      expect(tally(answers)).toEqual({ 401: 30, 429: 270, retryAfterOnEvery429: true })
      expect(tokenLookups(db)).toBe(30)
    })

    it('a real token’s attempt is given back: its user is never locked out by its own requests', async () => {
      // cacheTtl 0: every request of the session is looked up in the store, so each is counted.
      const { call, login } = await testApp(db, { ...limit, cacheTtl: 0 })
      const ip = '203.0.113.22'
      const { token } = await login('alice')
      const { token: ended } = await login('bob')
      await call('/session/logout', { method: 'POST', token: ended })
      // A burst of the user's own requests, past the limit, all at once and then one at a time.
      const burst = await Promise.all(
        Array.from({ length: 100 }, () => call('/api/me', { token, headers: from(ip) })),
      )
      expect(burst.map((answer) => answer.status)).toEqual(Array(100).fill(200))
      for (let i = 0; i < 40; i++) {
        expect((await call('/api/me', { token, headers: from(ip) })).status).toBe(200)
        // An ended session's token was real too: it hears its reason, and is not a guess.
        const gone = await call('/api/me', { token: ended, headers: from(ip) })
        expect(gone.status).toBe(401)
        expect(await gone.json()).toMatchObject({ error: 'session_ended', reason: 'logout' })
      }
      // None of it was counted: the address still has its 30 guesses.
      const answers: Response[] = []
      for (let i = 0; i < 31; i++) answers.push(await guess(call, ip))
      expect(tally(answers)).toEqual({ 401: 30, 429: 1, retryAfterOnEvery429: true })
    })
  })
})

/** A login route as the README shows it; every user's password is "right". */
function loginApp(ward: Ward) {
  const app = new Hono<WardEnv>()
  app.post('/login', async (c) => {
    const { username, password } = await c.req.json<{ username: string; password: string }>()
    await ward.loginThrottle.check(c, username)
    if (password !== 'right') {
      return c.json({ error: 'invalid_credentials', message: 'wrong username or password' }, 401)
    }
    await ward.loginThrottle.succeeded(c, username)
    return c.json({ token: (await ward.createSession(c, username)).token })
  })
  return (username: string, password: string, ip: string) =>
    app.request('/login', {
      method: 'POST',
      body: JSON.stringify({ username, password }),
      headers: { 'content-type': 'application/json', ...from(ip) },
    })
}

describe('ward.loginThrottle', () => {
  const database = pgliteForEachTest()
  useFakeClock()

  const wardWith = (logins: object) =>
    createWard({ database: database().orm, sweepInterval: 0, clientIp, throttle: { logins } })

  it('per account: after N failures from any addresses, even the right password gets 429 until the window passes', async () => {
    const login = loginApp(
      await wardWith({ perAccount: { points: 3, duration: 900 }, perIp: false }),
    )
    for (const ip of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) {
      expect((await login('alice', 'wrong', ip)).status).toBe(401)
    }
    at(300)
    const blocked = await login('Alice', 'right', '198.51.100.4') // the same account in any case
    expect(blocked.status).toBe(429)
    expect(blocked.headers.get('retry-after')).toBe('600')
    expect(await blocked.json()).toEqual({
      error: 'too_many_requests',
      message: 'too many failed sign-ins; try again in 600 s',
    })
    expect((await login('bob', 'right', '198.51.100.1')).status).toBe(200) // other accounts
    at(900)
    expect((await login('alice', 'right', '198.51.100.4')).status).toBe(200)
  })

  it('per account: a correct password forgets the failures before it', async () => {
    const login = loginApp(
      await wardWith({ perAccount: { points: 3, duration: 900 }, perIp: false }),
    )
    for (let i = 0; i < 2; i++)
      expect((await login('carol', 'wrong', '198.51.100.5')).status).toBe(401)
    expect((await login('carol', 'right', '198.51.100.5')).status).toBe(200)
    for (let i = 0; i < 3; i++)
      expect((await login('carol', 'wrong', '198.51.100.5')).status).toBe(401)
    expect((await login('carol', 'wrong', '198.51.100.5')).status).toBe(429)
  })

  it('per IP: after N failures from one address, every account is refused there; successes do not count', async () => {
    const login = loginApp(
      await wardWith({ perAccount: false, perIp: { points: 3, duration: 60 } }),
    )
    const ip = '198.51.100.6'
    for (let i = 0; i < 5; i++) expect((await login(`user${i}`, 'right', ip)).status).toBe(200)
    for (const user of ['alice', 'bob', 'carol']) {
      expect((await login(user, 'wrong', ip)).status).toBe(401)
    }
    at(20)
    const blocked = await login('dave', 'right', ip)
    expect(blocked.status).toBe(429)
    expect(blocked.headers.get('retry-after')).toBe('40')
    expect((await login('dave', 'right', '198.51.100.7')).status).toBe(200) // another address
    at(60)
    expect((await login('dave', 'right', ip)).status).toBe(200)
  })

  it('parallel guesses cannot all pass before their failures are counted', async () => {
    const login = loginApp(
      await wardWith({ perAccount: { points: 5, duration: 900 }, perIp: false }),
    )
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => login('erin', 'wrong', `198.51.100.${10 + i}`)),
    )
    const statuses = answers.map((answer) => answer.status)
    expect(statuses.filter((status) => status === 401)).toHaveLength(5)
    expect(statuses.filter((status) => status === 429)).toHaveLength(15)
  })

  it('outside Hono takes { ip } and its 429 is a ready JSON response; off, it never refuses', async () => {
    const ward = await wardWith({ perAccount: false, perIp: { points: 1, duration: 60 } })
    await ward.loginThrottle.check({ ip: '198.51.100.8' }, 'frank')
    const refused = await ward.loginThrottle.check({ ip: '198.51.100.8' }, 'frank').catch((e) => e)
    expect(refused).toBeInstanceOf(HTTPException)
    const response = (refused as HTTPException).getResponse()
    expect(response.status).toBe(429)
    expect(response.headers.get('retry-after')).toBe('60')
    expect(await response.json()).toMatchObject({ error: 'too_many_requests' })
    const off = await createWard({ database: database().orm, sweepInterval: 0, throttle: false })
    for (let i = 0; i < 20; i++) await off.loginThrottle.check({ ip: '198.51.100.8' }, 'frank')
  })
})

const REDIS_URL = process.env.REDIS_URL
describe.skipIf(redisSkipReason !== null)(
  `the limiters on Redis${redisSkipReason ? ` (skipped: ${redisSkipReason})` : ''}`,
  () => {
    let redis: Redis
    // A prefix of this run's own: the shared Redis is never flushed, only these keys deleted.
    const prefix = `sessionward-test:${randomUUID()}`
    const limits = {
      tokenGuesses: { points: 2, duration: 1 },
      logins: { perAccount: { points: 2, duration: 1 }, perIp: { points: 2, duration: 1 } },
    }
    beforeAll(async () => {
      redis = new Redis(String(REDIS_URL))
      await redis.ping() // ready: a client still connecting is counted in memory instead
    })
    afterAll(async () => {
      const keys = await redis.keys(`${prefix}*`)
      if (keys.length > 0) await redis.del(...keys)
      redis.disconnect()
    })

    it('counts token guesses in Redis, so every instance sees the block, until its window passes', async () => {
      const one = createThrottles(limits, redis, prefix).tokenGuesses
      const other = createThrottles(limits, redis, prefix).tokenGuesses // a second instance
      if (!one || !other) throw new Error('token guesses are on')
      const lookUps: string[] = []
      const guess = (by: string) => async () => lookUps.push(by) > 0 // every lookup a guess
      expect(await one.guard('192.0.2.1', null, guess('one'))).toBe(0)
      expect(await other.guard('192.0.2.1', null, guess('other'))).toBe(0)
      const seconds = await one.guard('192.0.2.1', null, guess('one'))
      expect(seconds).toBe(1)
      expect(lookUps).toEqual(['one', 'other']) // the refused one never looked up
      expect(await redis.keys(`${prefix}:token*`)).toHaveLength(1)
      // Redis expires the window on its own clock: wait it out, then the address is free.
      await sleep(seconds * 1000 + 200)
      expect(await other.guard('192.0.2.1', null, guess('other'))).toBe(0)
    })

    it('counts sign-in attempts per account and per IP in Redis, successes taken back', async () => {
      const one = createThrottles(limits, redis, prefix)
      const other = createThrottles(limits, redis, prefix)
      const account = 'hashed-account-key'
      expect(await one.loginAccounts?.attempt(account)).toBe(0)
      expect(await other.loginAccounts?.attempt(account)).toBe(0)
      expect(await one.loginAccounts?.attempt(account)).toBe(1)
      expect(await one.loginIps?.attempt('192.0.2.2')).toBe(0)
      await other.loginIps?.refund('192.0.2.2')
      expect(await one.loginIps?.attempt('192.0.2.2')).toBe(0)
      expect(await other.loginIps?.attempt('192.0.2.2')).toBe(0)
      expect(await one.loginIps?.attempt('192.0.2.2')).toBe(1)
      expect(await redis.keys(`${prefix}:account*`)).toHaveLength(1)
      expect(await redis.keys(`${prefix}:ip*`)).toHaveLength(1)
    })

    it('two wards on one Redis: guesses on one block the address on the other, before any lookup', async () => {
      const db = await testDatabase('PGlite')
      await db.reset()
      const options = {
        clientIp,
        redis,
        throttle: { tokenGuesses: { points: 2, duration: 60 } },
      } as const
      const one = await testApp(db, options)
      const other = await testApp(db, options)
      // This run's own /64 on the shared Redis; its key is deleted after.
      const network = `2001:db8:${randomUUID().slice(0, 4)}:1`
      const ip = `${network}::1`
      try {
        for (const app of [one, other]) {
          const answer = await app.call('/api/me', { token: generateToken(), headers: from(ip) })
          expect(answer.status).toBe(401)
        }
        db.queries.length = 0
        const blocked = await one.call('/api/me', { token: generateToken(), headers: from(ip) })
        expect(blocked.status).toBe(429)
        expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0)
        expect(db.queries).toEqual([])
      } finally {
        await redis.del(`sessionward:throttle:token:${network}::/64`)
        await Promise.all([one.settled(), other.settled()])
      }
    })

    it('issue 20 defect 1: 300 guesses at once over two wards on one Redis reach the store 30 times', async () => {
      const db = await testDatabase('PGlite')
      await db.reset()
      const options = { clientIp, redis, throttle: { tokenGuesses: { points: 30, duration: 60 } } }
      const one = await testApp(db, options)
      const other = await testApp(db, options)
      const network = `2001:db8:${randomUUID().slice(0, 4)}:2`
      const ip = `${network}::1`
      try {
        db.queries.length = 0
        const answers = await Promise.all(
          Array.from({ length: 300 }, (_, i) =>
            (i % 2 ? one : other).call('/api/me', { token: generateToken(), headers: from(ip) }),
          ),
        )
        expect(tally(answers)).toEqual({ 401: 30, 429: 270, retryAfterOnEvery429: true })
        expect(tokenLookups(db)).toBe(30)
      } finally {
        await redis.del(`sessionward:throttle:token:${network}::/64`)
        await Promise.all([one.settled(), other.settled()])
      }
    })

    /** Seconds an address is refused for after two guesses counted through `client`. */
    async function blockedAfterTwoGuesses(client: Redis, duration: number) {
      const settings = { ...limits, tokenGuesses: { points: 2, duration } }
      const limit = createThrottles(settings, client, prefix).tokenGuesses
      if (!limit) throw new Error('token guesses are on')
      const ip = `192.0.2.${duration}`
      const guess = async () => true
      await limit.guard(ip, null, guess)
      await limit.guard(ip, null, guess)
      return limit.guard(ip, null, guess)
    }

    it('counts in memory while Redis stalls (each call waits for it at most 1 s), rather than holding the request', async () => {
      const url = new URL(String(REDIS_URL))
      const proxy = await stallProxy(url.hostname, Number(url.port || 6379))
      const stalling = new Redis({ host: '127.0.0.1', port: proxy.port })
      try {
        await stalling.ping()
        proxy.stall()
        // A window longer than the waits: each call gives Redis its second first.
        expect(await blockedAfterTwoGuesses(stalling, 60)).toBeGreaterThan(0)
      } finally {
        stalling.disconnect()
        await proxy.close()
      }
    })

    it('counts in memory while Redis cannot answer, rather than failing the request', async () => {
      const down = new Redis('redis://127.0.0.1:1', {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
      })
      try {
        expect(await blockedAfterTwoGuesses(down, 1)).toBe(1)
      } finally {
        down.disconnect()
      }
    })
  },
)
