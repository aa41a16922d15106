import { describe, expect, it } from 'vitest'
import { createWard, type Ward } from './index.ts'
import {
  freshDatabase,
  postgresSkipReason,
  seedSweepBacklog,
  sqlConnection,
} from './test-support/postgres.ts'

// Issue 21, item 2: a backlog of expired sessions on two instances sharing one PostgreSQL. A
// round loops while its batches come back full, and the instances claim rows past each other's
// locks, so every row ends once (one hook call) and the backlog is gone within two rounds.

const BACKLOG = 100_000
const EXPIRE_AFTER = 900
const quiet = { info: () => {}, warn: () => {}, error: () => {} }

describe.skipIf(postgresSkipReason !== null)(
  `the sweep keeps up${postgresSkipReason ? ` (skipped: ${postgresSkipReason})` : ''}`,
  () => {
    it('100,000 expired rows, two instances, two rounds: all ended, each once, one hook call each', async () => {
      const base = String(process.env.DATABASE_URL)
      const name = `${new URL(base).pathname.slice(1) || 'postgres'}_sweep_backlog_w${process.env.VITEST_POOL_ID ?? '0'}`
      const url = await freshDatabase(base, name)
      const hooked: string[][] = [[], []]
      const wards: Ward[] = []
      // The rows are written apart from the wards, whose statements are bounded by storeTimeout.
      const { sql, close } = await sqlConnection(url)
      try {
        for (const calls of hooked) {
          wards.push(
            await createWard({
              database: url,
              logger: quiet,
              expireAfter: EXPIRE_AFTER,
              // Rounds are started by the test; a time budget far beyond any round here.
              sweepInterval: 0,
              hooks: { onSessionEnd: (session) => void calls.push(session.id) },
            }),
          )
        }
        const [a, b] = wards as [Ward, Ward]
        await a.migrate()
        // Half idle past their limit, half past their absolute end; one user each, so the log
        // limit never deletes one; and live sessions the sweep must leave alone.
        await seedSweepBacklog(sql, {
          expired: BACKLOG,
          live: 1000,
          expireAfter: EXPIRE_AFTER,
          halfPastAbsoluteEnd: true,
        })

        const rounds: number[][] = []
        for (let round = 0; round < 2; round++) {
          rounds.push(await Promise.all([a.sweep(), b.sweep()]))
        }

        const [first] = rounds as [number[]]
        // Both instances took part of the first round's backlog.
        expect(first.every((ended) => ended > 0)).toBe(true)
        expect(rounds.flat().reduce((sum, ended) => sum + ended, 0)).toBe(BACKLOG)
        const calls = hooked.flat()
        expect(calls).toHaveLength(BACKLOG)
        expect(new Set(calls).size).toBe(BACKLOG)
        const [counts] = await sql(`select
            count(*) filter (where ended_at is null and user_id like 'user-%')::int as expired_left,
            count(*) filter (where ended_at is null and user_id like 'live-%')::int as live,
            count(*) filter (where end_reason = 'idle')::int as idle,
            count(*) filter (where end_reason = 'absolute')::int as absolute
          from sessionward_session`)
        expect(counts).toEqual({
          expired_left: 0,
          live: 1000,
          idle: BACKLOG / 2,
          absolute: BACKLOG / 2,
        })
      } finally {
        for (const ward of wards) await ward.close()
        await close()
      }
    }, 300_000)
  },
)
