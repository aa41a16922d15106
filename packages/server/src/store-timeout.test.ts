import { MikroORM } from '@mikro-orm/core'
import { PostgreSqlDriver } from '@mikro-orm/postgresql'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { migrate } from './database.ts'
import { SessionEntity } from './entity.ts'
import { Store, StoreFailure } from './store.ts'
import { testApp } from './test-support/app.ts'
import { at, useFakeClock } from './test-support/clock.ts'
import { postgresSkipReason, testDatabase } from './test-support/db.ts'
import { freshDatabase } from './test-support/postgres.ts'
import { type StallProxy, stallProxy } from './test-support/stall-proxy.ts'
import { createWard, type Ward } from './ward.ts'

// Short, so the test is quick; every wait below is derived from it, never a fixed window.
const STORE_TIMEOUT = 1
// "Answered within the bound" on a noisy machine: well past the bound, far short of the stall.
const ANSWER_BOUND_MS = 3 * STORE_TIMEOUT * 1000

/** What `pending` settled with within `ms`, or 'still waiting'. */
function within<T>(pending: Promise<T>, ms: number): Promise<T | 'still waiting'> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'still waiting'>((resolve) => {
    timer = setTimeout(() => resolve('still waiting'), ms)
  })
  return Promise.race([pending, late]).finally(() => clearTimeout(timer))
}

function capturingLogger() {
  const warnings: string[] = []
  const lines: string[] = []
  const write = (...args: unknown[]) => void lines.push(args.map(String).join(' '))
  return {
    warnings,
    lines,
    logger: {
      info: write,
      error: write,
      warn: (...args: unknown[]) => {
        write(...args)
        warnings.push(args.map(String).join(' '))
      },
    },
  }
}

/** The ward's database behind a proxy: its own pool (a URL) or the app's MikroORM. */
type Kind = 'a postgres:// URL' | 'the app’s MikroORM'

describe
  .skipIf(postgresSkipReason !== null)
  .each<Kind>(['a postgres:// URL', 'the app’s MikroORM'])(
  `defect 6: a stalled PostgreSQL, the ward on %s${postgresSkipReason ? ` (skipped: ${postgresSkipReason})` : ''}`,
  (kind) => {
    let proxy: StallProxy
    let url: string
    let appOrm: MikroORM | null = null
    let ward: Ward | null = null
    beforeEach(async () => {
      const base = new URL(String(process.env.DATABASE_URL))
      const name = `${base.pathname.slice(1) || 'postgres'}_stall_w${process.env.VITEST_POOL_ID ?? '0'}`
      const direct = new URL(await freshDatabase(base.toString(), name))
      proxy = await stallProxy(direct.hostname, Number(direct.port || 5432))
      direct.host = `127.0.0.1:${proxy.port}`
      url = direct.toString()
      if (kind === 'the app’s MikroORM') {
        appOrm = await MikroORM.init({
          driver: PostgreSqlDriver,
          clientUrl: url,
          entities: [SessionEntity],
        })
        await migrate(appOrm)
      }
    })
    afterEach(async () => {
      proxy.resume()
      await ward?.close()
      await appOrm?.close(true)
      await proxy.close()
      appOrm = null
      ward = null
    })
    useFakeClock()

    it('defect 6: 503 within storeTimeout when the store must answer, 200 without waiting for an activity write, and back on resume', async () => {
      const { lines, warnings, logger } = capturingLogger()
      const app = await testApp(appOrm ? { orm: appOrm } : url, {
        storeTimeout: STORE_TIMEOUT,
        cacheTtl: 60,
        touchInterval: 10,
        logger,
      })
      ward = app.ward
      if (!appOrm) await ward.migrate()
      const { login, call } = app
      const alice = await login('alice')
      const bob = await login('bob')
      at(61) // both stale: alice re-reads (and writes activity) while the store still answers
      expect((await call('/api/me', { token: alice.token })).status).toBe(200)

      proxy.stall()
      at(75) // alice: cached (read at 61) and an activity write falls due; bob: not cached

      // (b) A cache hit answers without waiting for its activity write.
      const cached = await within(call('/api/me', { token: alice.token }), ANSWER_BOUND_MS)
      expect(cached).not.toBe('still waiting')
      expect((cached as Response).status).toBe(200)
      expect(warnings).toEqual([]) // answered while the write was still in flight

      // (a) A session that must be read answers 503 within the bound: fail closed.
      const uncached = await within(call('/api/me', { token: bob.token }), ANSWER_BOUND_MS)
      expect(uncached).not.toBe('still waiting')
      expect((uncached as Response).status).toBe(503)
      expect((uncached as Response).headers.get('retry-after')).toBe('5')
      expect(await (uncached as Response).json()).toMatchObject({ error: 'store_unavailable' })

      // (c) A login answers 503.
      const signIn = await within(
        call('/login', { method: 'POST', body: JSON.stringify({ userId: 'carol' }) }),
        ANSWER_BOUND_MS,
      )
      expect(signIn).not.toBe('still waiting')
      expect((signIn as Response).status).toBe(503)
      expect((signIn as Response).headers.get('retry-after')).toBe('5')
      expect(await (signIn as Response).json()).toMatchObject({ error: 'store_unavailable' })

      // The stalled activity write gives up at the bound too, logged once.
      await vi.waitFor(
        () => expect(warnings).toEqual([expect.stringMatching(/could not record activity/)]),
        { timeout: ANSWER_BOUND_MS, interval: 50 },
      )

      // Resumed: the same ward serves again, without a restart.
      proxy.resume()
      at(76)
      expect((await call('/api/me', { token: bob.token })).status).toBe(200)
      expect((await call('/api/me', { token: alice.token })).status).toBe(200)
      const carol = await login('carol')
      expect((await call('/api/me', { token: carol.token })).status).toBe(200)
      // No login of carol landed while the store was stalled: only the one after resume.
      const rows = await app.ward.orm.em
        .fork()
        .getConnection()
        .execute("select count(*)::int as n from sessionward_session where user_id = 'carol'")
      expect(rows).toEqual([{ n: 1 }])
      expect(lines.join('\n')).not.toMatch(/[0-9a-f]{64}|swt_/)
    })
  },
)

describe.skipIf(postgresSkipReason !== null)(
  `defect 6: a statement past storeTimeout is cancelled by PostgreSQL${postgresSkipReason ? ` (skipped: ${postgresSkipReason})` : ''}`,
  () => {
    /** Whether the server still runs a statement containing `marker`. */
    const running = async (orm: MikroORM, marker: string) => {
      const rows = await orm.em
        .fork()
        .getConnection()
        .execute<{ n: number }[]>(
          "select count(*)::int as n from pg_stat_activity where state = 'active' and query like ? and query not like '%pg_stat_activity%'",
          [`%${marker}%`],
        )
      return (rows[0]?.n ?? 0) > 0
    }

    it('in a ward transaction (any ORM) and in a single statement on a pool the ward opened', async () => {
      const shared = await testDatabase('PostgreSQL')
      const ward = await createWard({
        database: String(shared.url),
        storeTimeout: STORE_TIMEOUT,
        sweepInterval: 0,
      })
      const appOrm = await MikroORM.init({
        driver: PostgreSqlDriver,
        clientUrl: String(shared.url),
        entities: [SessionEntity],
      })
      const appStore = new Store(appOrm, STORE_TIMEOUT)
      try {
        const calls: [string, (sql: string) => Promise<unknown>][] = [
          ['transaction', (sql) => appStore.transaction((tx) => tx.query(sql, []))],
          ['statement', (sql) => new Store(ward.orm, STORE_TIMEOUT).query(sql, [])],
        ]
        for (const [kind, call] of calls) {
          const marker = `sessionward_cancel_${kind}`
          // A statement that would hold its connection for a minute.
          const outcome = await call(`select pg_sleep(60), '${marker}'`).catch((e: unknown) => e)
          expect(outcome, kind).toBeInstanceOf(StoreFailure)
          expect((outcome as StoreFailure).problem.status).toBe(503)
          await vi.waitFor(async () => expect(await running(appOrm, marker), kind).toBe(false), {
            timeout: ANSWER_BOUND_MS,
            interval: 100,
          })
        }
      } finally {
        await ward.close()
        await appOrm.close(true)
      }
    })
  },
)
