import { MikroORM } from '@mikro-orm/core'
import { PostgreSqlDriver } from '@mikro-orm/postgresql'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUS_APPLICATION_NAME } from './database.ts'
import { SessionEntity } from './entity.ts'
import { WardOptionsError } from './errors.ts'
import { BUS_CHANNEL } from './store.ts'
import { pgliteForEachTest } from './test-support/db.ts'
import { call, type Instance, listen, login, startInstance } from './test-support/instances.ts'
import { poolerProxy } from './test-support/pooler-proxy.ts'
import { postgresSkipReason, workerDatabase } from './test-support/postgres.ts'
import { expectActivityOnBCountsOnA, SHARED_ACTIVITY } from './test-support/shared-activity.ts'
import { createWard } from './ward.ts'

// PostgreSQL as the bus (`bus: 'postgres'`): ward instances as separate Node processes on one
// PostgreSQL and no Redis. Windows come from cacheTtl (60 s: within it, only the bus can have
// told an instance), never from how fast this machine is.

const skipped = postgresSkipReason ? ` (skipped: ${postgresSkipReason})` : ''
const CACHE_TTL = 60
const BUS = { bus: 'postgres', cacheTtl: CACHE_TTL } as const

/** Polls `token` on `instance` until it is refused; throws past half of cacheTtl. */
async function refusedWithin(instance: Instance, token: string, since: number): Promise<Response> {
  for (;;) {
    const answer = await call(instance, '/api/poll', token)
    if (answer.status !== 200) return answer
    if (Date.now() - since > (CACHE_TTL * 1000) / 2) return answer
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('bus: postgres on embedded PGlite', () => {
  it('is refused at start with a reason: no other instance can share an in-process database', async () => {
    const started = createWard({ bus: 'postgres' })
    await expect(started).rejects.toThrow(WardOptionsError)
    await expect(started).rejects.toThrow(
      "sessionward: bus: 'postgres' needs database to be a PostgreSQL server the instances share",
    )
  })

  describe("on an app's own ORM", () => {
    const pglite = pgliteForEachTest()

    it("is refused when the ORM is not on PostgreSQL's driver, naming the driver", async () => {
      const started = createWard({ database: pglite().orm, bus: 'postgres' })
      await expect(started).rejects.toThrow(WardOptionsError)
      await expect(started).rejects.toThrow(
        "sessionward: bus: 'postgres' needs the database on PostgreSQL through @mikro-orm/postgresql (its pg pool); this ORM's driver is PgliteDriver",
      )
    })
  })
})

describe.skipIf(postgresSkipReason !== null)(
  `bus: postgres, many instances${skipped}`,
  { timeout: 180_000 },
  () => {
    let databaseUrl: string
    let admin: MikroORM
    const started: Instance[] = []
    const instances = async (count: number, options: object = BUS) => {
      const list = await Promise.all(
        Array.from({ length: count }, () => startInstance(databaseUrl, null, options)),
      )
      started.push(...list)
      return list
    }

    beforeAll(async () => {
      databaseUrl = await workerDatabase('pgbus')
      admin = await MikroORM.init({
        driver: PostgreSqlDriver,
        clientUrl: databaseUrl,
        entities: [SessionEntity],
      })
    })
    afterEach(async () => {
      await Promise.all(started.splice(0).map((instance) => instance.stop()))
    })
    afterAll(async () => {
      await admin?.close(true)
    })

    /** The bus listeners connected to the test database right now. */
    const listeners = async () =>
      (await admin.em
        .fork()
        .getConnection()
        .execute(
          'select count(*)::int as n from pg_stat_activity where application_name = ? and datname = current_database()',
          [BUS_APPLICATION_NAME],
        )) as { n: number }[]
    const terminateListeners = () =>
      admin.em
        .fork()
        .getConnection()
        .execute(
          'select pg_terminate_backend(pid) from pg_stat_activity where application_name = ? and datname = current_database()',
          [BUS_APPLICATION_NAME],
        )

    it('two instances: a logout on A is refused on B at once, and reaches a stream on B', async () => {
      const [a, b] = (await instances(2)) as [Instance, Instance]
      const first = await login(a, 'alice')
      expect((await call(b, '/api/me', first.token)).status).toBe(200)
      const ended = Date.now()
      expect((await call(a, '/session/logout', first.token, 'POST')).status).toBe(204)
      const refused = await refusedWithin(b, first.token, ended)
      expect(refused.status).toBe(401)
      expect(await refused.json()).toMatchObject({ error: 'session_ended', reason: 'logout' })

      const second = await login(a, 'alice')
      const events = await listen(b, second.token)
      const adminSession = await login(a, 'admin')
      expect(
        (await call(a, `/admin/sessions/${second.id}`, adminSession.token, 'DELETE')).status,
      ).toBe(204)
      expect(await events.next()).toEqual({
        event: 'ended',
        data: JSON.stringify({ reason: 'admin' }),
      })
      expect(await events.next()).toBeNull()
    })

    it('three instances: an end made on any one is refused on the two others', async () => {
      const trio = await instances(3)
      for (const [index, ender] of trio.entries()) {
        const { token } = await login(ender, `bob${index}`)
        const others = trio.filter((instance) => instance !== ender)
        for (const other of others) expect((await call(other, '/api/me', token)).status).toBe(200)
        const ended = Date.now()
        expect((await call(ender, '/session/logout', token, 'POST')).status).toBe(204)
        for (const other of others) {
          const refused = await refusedWithin(other, token, ended)
          expect(refused.status).toBe(401)
          expect(await refused.json()).toMatchObject({ reason: 'logout' })
        }
      }
    })

    it('garbage on the channel is ignored: no instance falls over, no session ends, ends still travel', async () => {
      const [a, b] = (await instances(2)) as [Instance, Instance]
      const { token, id } = await login(a, 'mallory-target')
      const marker = await login(a, 'marker')
      for (const each of [token, marker.token]) {
        expect((await call(b, '/api/me', each)).status).toBe(200)
      }
      const garbage = [
        'not json',
        '[]',
        'null',
        '{"from":1}',
        '{"from":"x","ends":"all"}',
        `{"from":"x","ends":[["${id}","not-a-hash","logout",1]]}`,
        `{"from":"x","ends":[["${id}","${'a'.repeat(64)}","no_such_reason",1]]}`,
        '{"from":"x","activity":[["short",1]]}',
        `{"from":"x","rotations":[["${'a'.repeat(64)}",7]]}`,
        'x'.repeat(7_999),
      ]
      await admin.em
        .fork()
        .getConnection()
        .execute(`select ${garbage.map(() => 'pg_notify(?, ?)').join(', ')}`, [
          ...garbage.flatMap((payload) => [BUS_CHANNEL, payload]),
        ])
      // Notifications arrive in commit order: once B refuses the marker, it has read the garbage.
      const markedAt = Date.now()
      expect((await call(a, '/session/logout', marker.token, 'POST')).status).toBe(204)
      expect((await refusedWithin(b, marker.token, markedAt)).status).toBe(401)
      for (const instance of [a, b]) {
        expect((await call(instance, '/api/me', token)).status).toBe(200)
      }
      const ended = Date.now()
      expect((await call(a, '/session/logout', token, 'POST')).status).toBe(204)
      expect((await refusedWithin(b, token, ended)).status).toBe(401)
      for (const instance of [a, b]) expect(instance.count(/^error /)).toBe(0)
    })

    it('activity seen only on B keeps A from ending the session idle', async () => {
      const [a, b] = (await instances(2, { ...SHARED_ACTIVITY, bus: 'postgres' })) as [
        Instance,
        Instance,
      ]
      await expectActivityOnBCountsOnA(a, b, 'dave')
    })

    it('listeners killed with pg_terminate_backend mid-traffic: no end is missed after the replay', async () => {
      const [a, b, c] = (await instances(3)) as [Instance, Instance, Instance]
      expect((await listeners())[0]?.n).toBe(3)
      for (let attempt = 1; ; attempt++) {
        const sessions = await Promise.all(
          Array.from({ length: 30 }, (_, i) => login(a, `carol${attempt}-${i % 5}`)),
        )
        // Every session cached on B and C: from here on only the bus can tell them it ended.
        for (const { token } of sessions) {
          for (const other of [b, c]) expect((await call(other, '/api/me', token)).status).toBe(200)
        }
        const backBefore = b.count(/PostgreSQL bus listener back/)
        const before = sessions.slice(0, 10)
        const during = sessions.slice(10, 20)
        const after = sessions.slice(20)
        const ended = Date.now()
        await Promise.all(before.map(({ token }) => call(a, '/session/logout', token, 'POST')))
        await terminateListeners()
        // Made while nobody listens: only the replay from the table can bring these to B and C.
        await Promise.all(during.map(({ token }) => call(a, '/session/logout', token, 'POST')))
        const duringOutage = b.count(/PostgreSQL bus listener back/) === backBefore
        await b.waitFor(/^info sessionward: PostgreSQL bus listener back/)
        await c.waitFor(/^info sessionward: PostgreSQL bus listener back/)
        await Promise.all(after.map(({ token }) => call(a, '/session/logout', token, 'POST')))
        for (const other of [b, c]) {
          for (const { token } of sessions) {
            const refused = await refusedWithin(other, token, ended)
            expect(refused.status).toBe(401)
            expect(await refused.json()).toMatchObject({ reason: 'logout' })
          }
        }
        expect(b.count(/^warn sessionward: PostgreSQL bus listener lost/)).toBeGreaterThanOrEqual(1)
        if (duringOutage) break
        // This machine let B listen again before the logouts in between: try again.
        expect(attempt).toBeLessThan(4)
      }
      expect((await listeners())[0]?.n).toBe(3)
    })

    describe('behind a pooler in transaction mode', () => {
      it.each([
        [
          'answers LISTEN and never delivers',
          'lose',
          'sent a NOTIFY and did not hear it within storeTimeout (1 s)',
        ],
        [
          'refuses LISTEN',
          'refuse',
          'could not LISTEN (error: LISTEN is not supported in transaction pooling mode)',
        ],
      ] as const)('that %s, the ward does not start, and says why', async (_name, mode, why) => {
        const { hostname, port } = new URL(databaseUrl)
        const pooler = await poolerProxy(hostname, Number(port || 5432), mode)
        try {
          const url = new URL(databaseUrl)
          url.hostname = '127.0.0.1'
          url.port = String(pooler.port)
          const logger = { info: () => {}, warn: () => {}, error: () => {} }
          const starting = createWard({
            database: url.toString(),
            bus: 'postgres',
            storeTimeout: 1,
            logger,
          })
          await expect(starting).rejects.toThrow(WardOptionsError)
          await expect(starting).rejects.toThrow(`sessionward: bus: 'postgres' ${why}`)
          await expect(starting).rejects.toThrow('A pooler in transaction mode (PgBouncer')
        } finally {
          await pooler.close()
        }
      })
    })
  },
)
