import { loadavg } from 'node:os'
import { createWard } from '@sessionward/server'
import {
  freshDatabase,
  postgresSkipReason,
  seedSweepBacklog,
  sqlConnection,
} from '../packages/server/src/test-support/postgres.ts'
import { skipOutsideCi } from '../packages/server/src/test-support/services.ts'
import { kindOf, timeStatements } from './statement-timing.ts'

// A backlog the sweep ends in one round: idle past the limit, three sessions per user (so a
// batch trims many users' logs), beside live sessions it must leave alone.
const EXPIRED = 20_000
const LIVE = 20_000
const PER_USER = 3
const EXPIRE_AFTER = 900
const TARGET = 10_000

// What each statement a sweep round sends is, by its text.
const STATEMENT_KINDS: [string, RegExp][] = [
  ['claim a batch (`for update skip locked`)', /for update skip locked/],
  ['end the batch (`update … returning`)', /^\s*update sessionward_session set ended_at/],
  ['users ended since the last round', /select distinct user_id/],
  ['trim their logs', /cross join lateral/],
]

let spent: Map<string, [ms: number, count: number]> | null = null
timeStatements((sql, ms) => {
  if (!spent) return
  const kind = kindOf(sql, STATEMENT_KINDS)
  const [sum, count] = spent.get(kind) ?? [0, 0]
  spent.set(kind, [sum + ms, count + 1])
})

/**
 * The sweep at a small scale (the million-user bench has the large one): one ward, one round
 * over 20,000 sessions idle past their limit among 20,000 live ones, on PostgreSQL; rows ended
 * per second and where the round's time goes, statement by statement.
 */
export async function benchSweep(): Promise<string> {
  const title = `## Sweep: one round over ${EXPIRED.toLocaleString('en')} expired sessions (PostgreSQL)`
  const skip = skipOutsideCi('the sweep bench', postgresSkipReason)
  if (skip) return `${title}\n\nSkipped: ${skip} (the figure is for PostgreSQL).`
  const base = String(process.env.DATABASE_URL)
  const url = await freshDatabase(
    base,
    `${new URL(base).pathname.slice(1) || 'postgres'}_bench_sweep`,
  )
  const fixtures = await sqlConnection(url)
  let ended = 0
  let seconds = 0
  const measured = new Map<string, [number, number]>()
  try {
    const ward = await createWard({
      database: url,
      expireAfter: EXPIRE_AFTER,
      sweepInterval: 0,
      logger: { info: () => {}, warn: console.warn, error: console.error },
      hooks: { onSessionEnd: () => undefined },
    })
    await ward.migrate()
    await seedSweepBacklog(fixtures.sql, {
      expired: EXPIRED,
      live: LIVE,
      expireAfter: EXPIRE_AFTER,
      perUser: PER_USER,
    })
    spent = measured
    const started = performance.now()
    ended = await ward.sweep()
    seconds = (performance.now() - started) / 1000
    spent = null
    await ward.close()
  } finally {
    spent = null
    await fixtures.close()
  }
  const rate = ended / seconds
  const load = loadavg()[0]?.toFixed(1) ?? '?'
  const round = seconds * 1000
  // Batches overlap (two in flight), so statement times add up to more than the round: shares
  // are of their sum.
  const statements = [...measured.values()].reduce((sum, [ms]) => sum + ms, 0)
  const rows: [string, number, number][] = [...measured].map(([kind, [ms, count]]) => [
    kind,
    ms,
    count,
  ])
  return [
    title,
    '',
    `One ward, \`ward.sweep()\` once, default batches (1,000 rows, two in flight); ${PER_USER} expired sessions per user, ${LIVE.toLocaleString('en')} live ones left alone. Load is the 1-minute load average at the end (2 shared cores).`,
    '',
    '| rows ended | seconds | rows/s | load |',
    '|---:|---:|---:|---:|',
    `| ${ended} | ${seconds.toFixed(2)} | ${Math.round(rate).toLocaleString('en')} | ${load} |`,
    '',
    `- Target (issue 21): ≥ ${TARGET.toLocaleString('en')} rows/s: ${rate >= TARGET ? 'met' : '**NOT met**'} in this run.`,
    '',
    `Where the round's ${round.toFixed(0)} ms go (statements timed as the ward sends them, each with its wait for a pooled connection; two batches in flight, so their times overlap and add up to more than the round; \`BEGIN\`/\`COMMIT\`, the rules, the cache and the hooks are in neither):`,
    '',
    '| statement | count | ms (summed) | share of the sum |',
    '|---|---:|---:|---:|',
    ...rows
      .filter(([, ms]) => ms > 0)
      .map(
        ([kind, ms, count]) =>
          `| ${kind} | ${count} | ${ms.toFixed(0)} | ${((ms / statements) * 100).toFixed(0)}% |`,
      ),
  ].join('\n')
}
