import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  call,
  type Instance,
  listen,
  login,
  manyInstancesSkipReason,
  type OwnRedis,
  startInstance,
  startRedis,
} from './test-support/instances.ts'
import { workerDatabase } from './test-support/postgres.ts'
import { expectActivityOnBCountsOnA, SHARED_ACTIVITY } from './test-support/shared-activity.ts'

// Ward instances as separate Node processes on one PostgreSQL and one Redis (DESIGN §3 "Many
// instances"). Windows are derived from the options (cacheTtl, expireAfter), never from how
// fast this machine happens to be.

const skipped = manyInstancesSkipReason ? ` (skipped: ${manyInstancesSkipReason})` : ''

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let databaseUrl: string
const started: Instance[] = []

async function instances(
  count: number,
  redisUrl: string | null,
  options: object,
): Promise<Instance[]> {
  const list = await Promise.all(
    Array.from({ length: count }, () => startInstance(databaseUrl, redisUrl, options)),
  )
  started.push(...list)
  return list
}

describe.skipIf(manyInstancesSkipReason !== null)(
  `many instances${skipped}`,
  { timeout: 120_000 },
  () => {
    beforeAll(async () => {
      databaseUrl = await workerDatabase('many')
    })
    afterEach(async () => {
      await Promise.all(started.splice(0).map((instance) => instance.stop()))
    })

    describe('on one Redis', () => {
      const redisUrl = String(process.env.REDIS_URL)

      it('a logout on A is refused on B at once, although B cached the session for a minute', async () => {
        const [a, b] = (await instances(2, redisUrl, { cacheTtl: 60 })) as [Instance, Instance]
        const { token } = await login(a, 'alice')
        expect((await call(b, '/api/me', token)).status).toBe(200)
        const ended = Date.now()
        expect((await call(a, '/session/logout', token, 'POST')).status).toBe(204)
        // Within cacheTtl only Redis can have told B: the row is not read again before then.
        let refused: Response
        do refused = await call(b, '/api/me', token)
        while (refused.status === 200 && Date.now() - ended < 60_000 / 2)
        expect(refused.status).toBe(401)
        expect(await refused.json()).toMatchObject({ error: 'session_ended', reason: 'logout' })
        expect(Date.now() - ended).toBeLessThan(60_000 / 2)
      })

      it('activity seen only on B keeps A from ending the session idle', async () => {
        const [a, b] = (await instances(2, redisUrl, SHARED_ACTIVITY)) as [Instance, Instance]
        await expectActivityOnBCountsOnA(a, b, 'bob')
      })

      it('an admin end on B reaches a browser listening on A through /session/events', async () => {
        const [a, b] = (await instances(2, redisUrl, { cacheTtl: 60 })) as [Instance, Instance]
        const { token, id } = await login(a, 'carol')
        const admin = await login(b, 'admin')
        const events = await listen(a, token)
        const response = await call(b, `/admin/sessions/${id}`, admin.token, 'DELETE')
        expect(response.status).toBe(204)
        expect(await events.next()).toEqual({
          event: 'ended',
          data: JSON.stringify({ reason: 'admin' }),
        })
        expect(await events.next()).toBeNull()
      })
    })

    describe('on a Redis the test kills and restarts', () => {
      let redis: OwnRedis
      beforeAll(async () => {
        redis = await startRedis()
      })
      afterAll(async () => {
        await redis.kill()
      })

      it('falls back to the database within cacheTtl, logs once, and recovers without a restart', async () => {
        const cacheTtl = 3
        const [a, b] = (await instances(2, redis.url, { cacheTtl })) as [Instance, Instance]

        // Up: an end on A reaches a stream on B with no request to B.
        const first = await login(a, 'dave')
        const streamed = await listen(b, first.token)
        await call(a, '/session/logout', first.token, 'POST')
        expect((await streamed.next())?.event).toBe('ended')

        await redis.kill()
        await Promise.all([a, b].map((i) => i.waitFor(/^warn sessionward: Redis unavailable/)))

        // Down: B still refuses an ended session once its cached row is cacheTtl old, and never
        // accepts it later than that.
        const second = await login(a, 'dave')
        expect((await call(b, '/api/me', second.token)).status).toBe(200)
        const ended = Date.now()
        expect((await call(a, '/session/logout', second.token, 'POST')).status).toBe(204)
        let answer: Response
        let sent: number
        do {
          sent = Date.now()
          answer = await call(b, '/api/me', second.token)
          if (answer.status === 200) expect(sent - ended).toBeLessThan(cacheTtl * 1000)
          await sleep(100)
        } while (answer.status === 200)
        expect(answer.status).toBe(401)
        expect(await answer.json()).toMatchObject({ error: 'session_ended', reason: 'logout' })

        await redis.restart()
        await Promise.all([a, b].map((i) => i.waitFor(/^info sessionward: Redis available again/)))
        for (const instance of [a, b]) {
          expect(instance.count(/Redis unavailable/)).toBe(1)
        }

        // Recovered: an end on A reaches a stream on B again, no restart of either.
        const third = await login(a, 'dave')
        const again = await listen(b, third.token)
        await call(a, '/session/logout', third.token, 'POST')
        expect(await again.next()).toEqual({
          event: 'ended',
          data: JSON.stringify({ reason: 'logout' }),
        })
      })
    })
  },
)
