import { Redis } from 'ioredis'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { WardLogger } from './options.ts'
import { type TestApp, testApp } from './test-support/app.ts'
import { at, useFakeClock } from './test-support/clock.ts'
import { onEachDatabase, type TestDatabase } from './test-support/db.ts'
import { type OwnRedis, redisSkipReason, startRedis } from './test-support/instances.ts'
import { EventReader } from './test-support/sse.ts'
import { type StallProxy, stallProxy } from './test-support/stall-proxy.ts'

// Redis faults of issue 20, on a redis-server of the test's own (started and killed here),
// reached through a proxy the test can stall: connected, and silent.

// Skipped where the suite's Redis is (no redis-server expected then either).
const skipped = redisSkipReason ? ` (skipped: ${redisSkipReason})` : ''
const SECRET = 'a-test-secret-of-at-least-32-bytes!!'
// How long the breaker keeps Redis off the request path after a timeout (redis-channel.ts).
const BREAKER_SECONDS = 3
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A logger that keeps its lines as `level message`. */
function keptLines(): { lines: string[]; logger: WardLogger } {
  const lines: string[] = []
  const keep = (level: string) => (message: string) => void lines.push(`${level} ${message}`)
  return { lines, logger: { info: keep('info'), warn: keep('warn'), error: keep('error') } }
}

/**
 * How many lines match `pattern` once `count` of them are there, or after `bound` ms (of the
 * real clock: some tests fake Date).
 */
async function linesOnceThere(
  lines: string[],
  pattern: RegExp,
  count: number,
  bound = 20_000,
): Promise<number> {
  const seen = () => lines.filter((line) => pattern.test(line)).length
  const until = performance.now() + bound
  while (seen() < count && performance.now() < until) await sleep(20)
  return seen()
}

const GUESS = `swt_${'A'.repeat(43)}`
const GUESSES_KEY = 'sessionward:throttle:token:203.0.113.7'

/** How many guesses from 203.0.113.7 Redis holds (the ward counts there while it can). */
async function guessesInRedis(url: string): Promise<number> {
  const direct = new Redis(url)
  try {
    return Number((await direct.get(GUESSES_KEY)) ?? 0)
  } finally {
    direct.disconnect()
  }
}

/**
 * Sends guesses until one is counted in Redis: the ward's client is connected (until then it
 * counts in memory). Returns the count.
 */
async function connected(app: TestApp, url: string): Promise<number> {
  const until = performance.now() + 20_000
  for (;;) {
    expect((await app.call('/api/me', { token: GUESS })).status).toBe(401)
    const counted = await guessesInRedis(url)
    if (counted > 0 || performance.now() > until) return counted
    await sleep(50)
  }
}

/**
 * Whether ends made on `a` reach `b` through Redis (with a cacheTtl only Redis beats): tried
 * with fresh sessions until one does, since an end made before both are connected is lost.
 */
async function sharing(a: TestApp, b: TestApp): Promise<boolean> {
  const until = performance.now() + 20_000
  while (performance.now() < until) {
    const { token } = await a.login('probe')
    expect((await b.call('/api/me', { token })).status).toBe(200)
    await a.call('/session/logout', { method: 'POST', token })
    const retry = performance.now() + 1_000
    while (performance.now() < retry) {
      if ((await b.call('/api/me', { token })).status === 401) return true
      await sleep(20)
    }
  }
  return false
}

const UNAVAILABLE = /^warn sessionward: Redis unavailable/
const BACK = /^info sessionward: Redis available again/

describe.skipIf(redisSkipReason !== null)(`Redis faults${skipped}`, { timeout: 90_000 }, () => {
  onEachDatabase((open) => {
    let db: TestDatabase
    let redis: OwnRedis
    let proxy: StallProxy
    const apps: TestApp[] = []
    beforeEach(async () => {
      db = await open()
      redis = await startRedis()
      proxy = await stallProxy('127.0.0.1', Number(new URL(redis.url).port))
    })
    afterEach(async () => {
      proxy.resume()
      await Promise.all(apps.splice(0).map((app) => app.ward.close()))
      await proxy.close()
      await redis.kill()
    })
    const through = () => `redis://127.0.0.1:${proxy.port}`
    const app = async (options: Parameters<typeof testApp>[1]) => {
      const made = await testApp(db, options)
      apps.push(made)
      return made
    }

    describe('issue 20 defect 5: a stalled Redis (connected, silent) holds no request and queues nothing past its first timeout', () => {
      it('after one Redis timeout, requests that miss the cache send Redis nothing while it stays silent, and share again once it answers', async () => {
        const { lines, logger } = keptLines()
        // cacheTtl 0: every request misses the cache (reads the row, asks the guess counter).
        const ward = await app({
          redis: through(),
          cacheTtl: 0,
          clientIp: () => '203.0.113.7',
          logger,
        })
        const { token } = await ward.login('alice')
        expect(await connected(ward, redis.url)).toBeGreaterThan(0)
        expect((await ward.call('/api/me', { token })).status).toBe(200)

        proxy.stall()
        // Until a command has gone unanswered for the timeout, a request may still wait for one.
        let sent = proxy.heldFromClient()
        let quiet = 0
        let requests = 0
        while (quiet < 2 && requests < 8) {
          expect((await ward.call('/api/me', { token })).status).toBe(200)
          requests++
          const now = proxy.heldFromClient()
          quiet = now === sent ? quiet + 1 : 0
          sent = now
        }
        // Requests stopped adding to ioredis' queue (what it sends, the proxy holds) …
        expect(requests).toBeLessThan(8)
        expect(lines.filter((line) => UNAVAILABLE.test(line))).toHaveLength(1)

        // … for any number of requests, concurrent or not: none waits for Redis.
        const answers = await Promise.all(
          Array.from({ length: 50 }, () => ward.call('/api/me', { token })),
        )
        expect(answers.map((answer) => answer.status)).toEqual(Array(50).fill(200))
        expect(proxy.heldFromClient()).toBe(sent)

        // Past the breaker's seconds Redis has still answered nothing: nothing more is sent.
        await sleep(BREAKER_SECONDS * 1000 + 500)
        for (let i = 0; i < 10; i++) {
          expect((await ward.call('/api/me', { token })).status).toBe(200)
        }
        expect(proxy.heldFromClient()).toBe(sent)

        // Redis answers again: one line says so, and guesses are counted in Redis again.
        proxy.resume()
        expect(await linesOnceThere(lines, BACK, 1)).toBe(1)
        const before = await guessesInRedis(redis.url)
        expect((await ward.call('/api/me', { token: GUESS })).status).toBe(401)
        expect(await guessesInRedis(redis.url)).toBe(before + 1)
        expect(lines.filter((line) => UNAVAILABLE.test(line))).toHaveLength(1)
      })
    })

    describe('issue 20 defect 9: after one slow Redis answer, the next outage is logged too', () => {
      useFakeClock()

      it('logs one warning per outage and one line each time Redis is back, from what its commands get', async () => {
        const { lines, logger } = keptLines()
        const ward = await app({
          redis: through(),
          warnAfter: 50,
          expireAfter: 60,
          clientIp: () => '203.0.113.7',
          logger,
        })
        const { token } = await ward.login('bob')
        expect(await connected(ward, redis.url)).toBeGreaterThan(0)
        expect((await ward.call('/api/me', { token })).status).toBe(200)

        // A slow answer: the idle decision asks Redis for activity, which does not answer.
        proxy.stall()
        at(100)
        const idle = await ward.call('/api/me', { token })
        expect(await idle.json()).toMatchObject({ error: 'session_ended', reason: 'idle' })
        expect(await linesOnceThere(lines, UNAVAILABLE, 1)).toBe(1)
        proxy.resume()
        expect(await linesOnceThere(lines, BACK, 1)).toBe(1)

        // A real outage afterwards: logged, once, and its end too.
        await redis.kill()
        expect(await linesOnceThere(lines, UNAVAILABLE, 2)).toBe(2)
        await redis.restart()
        expect(await linesOnceThere(lines, BACK, 2)).toBe(2)
        expect(lines.filter((line) => UNAVAILABLE.test(line))).toHaveLength(2)
      })
    })

    describe('issue 20 defect 8: with Redis and rotateOnRefresh, an end reaches every hash of the session', () => {
      it('a logout on A refuses on B the token B still caches from before a refresh on A', async () => {
        const options = {
          redis: redis.url,
          cacheTtl: 60,
          jwt: { secret: SECRET, rotateOnRefresh: true },
        }
        const a = await app(options)
        const b = await app(options)
        expect(await sharing(a, b)).toBe(true)
        const { token } = await a.login('carol')
        // B caches the session under its first token (for a minute: only Redis can tell it).
        expect((await b.call('/api/me', { token })).status).toBe(200)
        const events = new EventReader(await b.call('/session/events', { token }))
        expect((await events.next())?.event).toBe('policy')

        const refresh = await a.call('/session/token', { method: 'POST', token })
        const { token: rotated } = (await refresh.json()) as { token: string }
        expect((await a.call('/session/logout', { method: 'POST', token: rotated })).status).toBe(
          204,
        )
        // B has heard of the end …
        expect(await events.next()).toEqual({
          event: 'ended',
          data: JSON.stringify({ reason: 'logout' }),
        })
        // … and refuses the session by the token it cached, not only by the one that ended.
        const previous = await b.call('/api/me', { token })
        expect(previous.status).toBe(401)
        expect(await previous.json()).toMatchObject({ error: 'session_ended', reason: 'logout' })
        expect((await b.call('/api/me', { token: rotated })).status).toBe(401)
        await events.cancel()
      })
    })
  })
})
