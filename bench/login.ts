import { loadavg } from 'node:os'
import { MikroORM } from '@mikro-orm/core'
import { PostgreSqlDriver } from '@mikro-orm/postgresql'
import { createWard, SessionEntity, type WardEnv, type WardOptions } from '@sessionward/server'
import { Hono } from 'hono'
import type { Statements } from '../packages/server/src/store.ts'
import { Store } from '../packages/server/src/store.ts'
import { freshDatabase, postgresSkipReason } from '../packages/server/src/test-support/postgres.ts'
import { skipOutsideCi } from '../packages/server/src/test-support/services.ts'
import { kindOf, timeStatements } from './statement-timing.ts'

const LOGINS = 3000
const CONCURRENCY = 16
const USERS = 100
const TARGET = { perSecond: 1000, p99: 20 }

interface LoginRun {
  perSecond: number
  p50: number
  p99: number
  failures: number
  load: string
  /** Time inside the login's transaction and in each kind of statement, ms summed over logins. */
  spent: Map<string, number>
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0

// What each statement a login sends is, by its text.
const STATEMENT_KINDS: [string, RegExp][] = [
  [
    'the sign-in under the lock (`sessionward_sign_in_2`: lock, check, evict, insert, commit)',
    /sessionward_sign_in/,
  ],
  ['advisory lock (`pg_advisory_xact_lock`)', /pg_advisory_xact_lock/],
  ['read the live sessions of the user', /^\s*select .* where user_id = \? and ended_at is null/s],
  ['eviction + insert (one statement)', /^\s*with ended as/],
  ['insert (no eviction)', /^\s*insert into sessionward_session/],
  ['eviction alone (`update`)', /^\s*update sessionward_session set ended_at/],
  ['log trim (`delete`)', /^\s*delete from sessionward_session/],
  ['`set local statement_timeout`', /^\s*set local statement_timeout/],
]
const BEFORE_WORK = 'the wait for a pooled connection, and `BEGIN`'
const AFTER_WORK = '`COMMIT`'

let spent: Map<string, number> | null = null
function note(kind: string, ms: number): void {
  spent?.set(kind, (spent.get(kind) ?? 0) + ms)
}

timeStatements((sql, ms) => note(kindOf(sql, STATEMENT_KINDS), ms))
const transaction = Store.prototype.transaction
Store.prototype.transaction = async function <T>(
  this: Store,
  work: (tx: Statements) => Promise<T>,
) {
  const started = performance.now()
  // The work starts once a connection is held and BEGIN answered; COMMIT follows its end.
  let begun = started
  let worked = started
  try {
    return await transaction.call(this, async (tx) => {
      begun = performance.now()
      try {
        return await work(tx)
      } finally {
        worked = performance.now()
      }
    })
  } finally {
    const ended = performance.now()
    note(BEFORE_WORK, begun - started)
    note(AFTER_WORK, ended - worked)
  }
} as typeof transaction

async function run(database: WardOptions['database'], options: WardOptions): Promise<LoginRun> {
  const ward = await createWard({ ...options, database })
  await ward.migrate()
  const app = new Hono<WardEnv>()
  app.post('/login/:user', async (c) => c.json(await ward.createSession(c, c.req.param('user'))))
  // A server that has run a while holds its pool's connections open and each has planned the
  // sign-in: open and warm them first, on users outside the measured ones (measured: opening ten
  // connections at once costs the first 16 logins 21–48 ms each, a p99 of its own).
  for (let round = 0; round < 4; round++) {
    await Promise.all(
      Array.from({ length: CONCURRENCY }, (_, i) =>
        app.request(`/login/warm-up-${i}`, { method: 'POST', headers: { 'user-agent': 'bench' } }),
      ),
    )
  }
  const latencies: number[] = []
  let next = 0
  let failures = 0
  spent = new Map()
  const started = performance.now()
  const worker = async () => {
    while (next < LOGINS) {
      const user = `user-${next++ % USERS}`
      const begin = performance.now()
      const response = await app.request(`/login/${user}`, {
        method: 'POST',
        headers: { 'user-agent': 'sessionward-bench' },
      })
      latencies.push(performance.now() - begin)
      if (response.status !== 200) failures++
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  const seconds = (performance.now() - started) / 1000
  const load = loadavg()[0]?.toFixed(1) ?? '?'
  const measured = spent
  spent = null
  await ward.close()
  latencies.sort((a, b) => a - b)
  measured.set(
    'login',
    latencies.reduce((sum, ms) => sum + ms, 0),
  )
  return {
    perSecond: LOGINS / seconds,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    failures,
    load,
    spent: measured,
  }
}

/** Where a login's time goes: each kind of statement, the rest of the transaction, the rest. */
function breakdown(r: LoginRun): string[] {
  const perLogin = (ms: number) => ms / LOGINS
  const login = r.spent.get('login') ?? 0
  const rows: [string, number][] = STATEMENT_KINDS.map(([kind]) => [kind, r.spent.get(kind) ?? 0])
  const statements = rows.reduce((sum, [, ms]) => sum + ms, 0)
  const before = r.spent.get(BEFORE_WORK) ?? 0
  const after = r.spent.get(AFTER_WORK) ?? 0
  // Statements on their own include their wait for a pooled connection; in a transaction, that
  // wait is BEFORE_WORK's.
  rows.push(
    [BEFORE_WORK, before],
    [AFTER_WORK, after],
    ['the rest (route, token, the rules, cache, hooks)', login - statements - before - after],
  )
  return [
    '| part of a login | ms per login | share |',
    '|---|---:|---:|',
    ...rows
      .filter(([, ms]) => ms > 0)
      .map(
        ([kind, ms]) =>
          `| ${kind} | ${perLogin(ms).toFixed(2)} | ${((ms / login) * 100).toFixed(0)}% |`,
      ),
    `| the login (mean latency) | ${perLogin(login).toFixed(2)} | 100% |`,
  ]
}

/**
 * Login throughput: `createSession` with `maxSessions: 3` (every login past the third evicts
 * the least recently active session under the per-user lock), on PostgreSQL, with the session
 * log trimmed to 20 rows per user (the default: by the sweep round), trimmed at login (the
 * sweep off) and kept whole (`logLimit: null`) in the same run, and where a login's time goes.
 */
export async function benchLogin(): Promise<string> {
  const skip = skipOutsideCi('the login bench', postgresSkipReason)
  if (skip) return `## Logins\n\nSkipped: ${skip} (this benchmark is for PostgreSQL).`
  const url = String(process.env.DATABASE_URL)
  const base = `${new URL(url).pathname.slice(1) || 'postgres'}_bench_login`
  // A first run in a process is slower (JIT, first connections): one unmeasured run first.
  await run(await freshDatabase(url, `${base}_warm_up`), { maxSessions: 3 })
  const byRound = await run(await freshDatabase(url, `${base}_trimmed`), { maxSessions: 3 })
  // The app's own ORM with one connection per concurrent login (and the ward's statement
  // bound on every connection, as the ward's own pool has it).
  const widePool = await MikroORM.init({
    driver: PostgreSqlDriver,
    clientUrl: await freshDatabase(url, `${base}_pool`),
    entities: [SessionEntity],
    pool: { max: CONCURRENCY },
    driverOptions: { statement_timeout: 5000 },
  })
  const pooled = await run(widePool, { maxSessions: 3 })
  await widePool.close(true)
  const atLogin = await run(await freshDatabase(url, `${base}_at_login`), {
    maxSessions: 3,
    sweepInterval: 0,
  })
  const kept = await run(await freshDatabase(url, `${base}_kept`), {
    maxSessions: 3,
    logLimit: null,
  })
  const row = (label: string, r: LoginRun) =>
    `| ${label} | ${Math.round(r.perSecond)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.failures} | ${r.load} |`
  const met = byRound.perSecond >= TARGET.perSecond && byRound.p99 <= TARGET.p99
  return [
    '## Logins: `createSession` with a cap of 3 (PostgreSQL)',
    '',
    `${LOGINS} logins spread over ${USERS} users (so ${LOGINS - USERS * 3} of them evict), ${CONCURRENCY} at a time, in-process through a Hono route, on the ward's own pool (10 connections, opened and warmed first by ${4 * CONCURRENCY} unmeasured logins of other users). Load is the 1-minute load average when the run ended (2 shared cores).`,
    '',
    '| logLimit | sessions/s | p50 ms | p99 ms | failed | load |',
    '|---|---:|---:|---:|---:|---:|',
    row('20 (default: trimmed by the next sweep round)', byRound),
    row(`20, the app's ORM with a pool of ${CONCURRENCY} connections`, pooled),
    row('20, sweep off (`sweepInterval: 0`: trimmed at login)', atLogin),
    row('null (keeps every ended row)', kept),
    '',
    `- Target (issue 21): ≥ ${TARGET.perSecond} logins/s and p99 ≤ ${TARGET.p99} ms with the default: ${met ? 'met' : '**NOT met**'} in this run.`,
    '',
    "Where the default case's time goes (statements timed as the ward sends them, each with its wait for a pooled connection; a login is one statement, `sessionward_sign_in_2`, that takes the user's lock, checks the user's live sessions are those the rules planned on, evicts, inserts and commits; the plan starts from the sessions this instance's last sign-in of the user left, else from a read of them first; was five round trips in a transaction: `BEGIN`, lock, read, evict + insert, `COMMIT`, whose rows appear now only for plans overtaken three times):",
    '',
    ...breakdown(byRound),
  ].join('\n')
}
