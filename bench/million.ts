// `npm run bench:million`: the ward on a PostgreSQL table the size of a large site, 1,000,000
// live sessions (one per user) and 10,000,000 ended ones (issue 21, item 4). The rows come from
// `generate_series` in this script; the database is its own and is dropped afterwards. Writes
// its section into BENCHMARKS.md (`npm run bench` keeps it). MILLION_SCALE=0.01 runs the same
// at 1/100 of the size, to try the script.
import { statfsSync } from 'node:fs'
import { loadavg } from 'node:os'
import { MikroORM } from '@mikro-orm/core'
import { PostgreSqlDriver } from '@mikro-orm/postgresql'
import type { EntityManager } from '@mikro-orm/sql'
import { createWard, SessionEntity, type WardEnv } from '@sessionward/server'
import { Hono } from 'hono'
import { type Row, Statements } from '../packages/server/src/store.ts'
import { freshDatabase, postgresSkipReason } from '../packages/server/src/test-support/postgres.ts'
import { replaceSection } from './sections.ts'

const SCALE = Number(process.env.MILLION_SCALE ?? 1)
const USERS = Math.round(1_000_000 * SCALE)
const ENDED_PER_USER = 10
const EXPIRED_FOR_SWEEP = Math.round(100_000 * SCALE)
// The live sessions' idle limit: long enough that none expires while the rows are built.
const EXPIRE_AFTER = 8 * 3600
const SAMPLES = 2000
const CONCURRENCY = 16
/** Unmeasured logins that open and warm the pool before the measured ones. */
const WARM_UP = 4 * CONCURRENCY
const USER_AGENT = 'sessionward-bench'
const TARGETS = { miss: 5, login: 20, admin: 50, sweep: 10_000 }

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0
const stamp = () => new Date().toISOString().slice(11, 19)
const say = (line: string) => process.stdout.write(`${stamp()} ${line}\n`)
const load = () => loadavg()[0]?.toFixed(1) ?? '?'

/** The session token the generator gives user `n`'s live session (shaped like a real one). */
const tokenOf = (n: number) => `swt_${String(n).padStart(43, '0')}`

interface Timing {
  label: string
  p50: number
  p99: number
  count: number
  load: string
}

/** Runs `once(i)` `count` times, `concurrency` at a time, and times each. */
async function timed(
  label: string,
  count: number,
  concurrency: number,
  once: (i: number) => Promise<void>,
): Promise<Timing & { perSecond: number }> {
  const latencies: number[] = []
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++
        const begin = performance.now()
        await once(i)
        latencies.push(performance.now() - begin)
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  const timing = {
    label,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    count,
    load: load(),
    perSecond: count / seconds,
  }
  say(`${label}: p50 ${timing.p50.toFixed(2)} ms, p99 ${timing.p99.toFixed(2)} ms`)
  return timing
}

/** The first statement of each kind the ward sends, with its parameters, for EXPLAIN. */
const captured = new Map<string, { sql: string; params: unknown[] }>()
function captureStatements(kinds: Record<string, RegExp>): void {
  const query = Statements.prototype.query
  Statements.prototype.query = function (sql: string, params: unknown[]) {
    for (const [kind, pattern] of Object.entries(kinds)) {
      if (!captured.has(kind) && pattern.test(sql)) captured.set(kind, { sql, params })
    }
    return query.call(this, sql, params)
  }
}

async function main(): Promise<void> {
  if (postgresSkipReason) throw new Error(`bench:million needs PostgreSQL: ${postgresSkipReason}`)
  const base = String(process.env.DATABASE_URL)
  const name = `${new URL(base).pathname.slice(1) || 'postgres'}_bench_million`
  const { bavail, bsize } = statfsSync('/')
  const freeGb = (bavail * bsize) / 1e9
  say(`free disk ${freeGb.toFixed(1)} GB, load ${load()}, ${USERS} users`)
  if (freeGb < 20 * SCALE) throw new Error('bench:million needs about 12 GB of free disk')
  const url = await freshDatabase(base, name)
  const orm = await MikroORM.init({
    driver: PostgreSqlDriver,
    clientUrl: url,
    entities: [SessionEntity],
  })
  const sql = (text: string, params: unknown[] = []) =>
    (orm.em.fork() as EntityManager).execute<Row[]>(text, params, 'all')
  try {
    const ward = await createWard({
      database: url,
      expireAfter: EXPIRE_AFTER,
      maxSessions: 3,
      sweepInterval: 0,
      logger: { info: () => {}, warn: say, error: say },
    })
    await ward.migrate()
    const generation = await generate(sql)
    captureStatements({
      'cache-miss authenticate': /where token_hash = \?/,
      'login: live sessions of the user (read before the lock, when this instance has none)':
        /where user_id = \? and ended_at is null\s+order by last_activity_at/,
      'devices list, first page': /where user_id = \? and ended_at is null and not/,
      'admin first page': /from sessionward_session\s+order by created_at desc/,
      'admin `?live=true`': /from sessionward_session\s+where ended_at is null and not/,
      'admin `?reason=idle&live=false`': /end_reason = any\(array/,
      'admin `?user=…`': /from sessionward_session\s+where user_id = \?\s+order by created_at/,
      'sweep: claim a batch': /for update skip locked/,
      'sweep: users ended since the last round': /select distinct user_id/,
      'sweep: trim their logs': /cross join lateral/,
    })
    const results = await measure(ward, sql)
    const plans: string[] = []
    for (const [kind, { sql: text, params }] of captured) {
      const plan = await sql(`explain (analyze, buffers) ${text}`, params)
      const lines = plan.map((row) => String(Object.values(row)[0]))
      plans.push(`**${kind}**`, '', '```', ...lines, '```', '')
    }
    await ward.close()
    const [size] = await sql(
      "select pg_size_pretty(pg_total_relation_size('sessionward_session')) as total, pg_size_pretty(pg_relation_size('sessionward_session')) as heap",
    )
    const section = render(generation, results, plans, size ?? {})
    replaceSection(section)
    process.stdout.write(`${section}\n`)
  } finally {
    await orm.close(true)
    await dropDatabase(base, name)
  }
}

interface Generation {
  seconds: number
  load: string
}

/**
 * The rows: user n (1..USERS) has one live session (token `tokenOf(n)`, active in the last 10
 * minutes, signed in within 2 hours) and ENDED_PER_USER ended ones over the last 20 days, with
 * every end reason. Indexes and constraints are dropped first and built again from their own
 * definitions (as the migrations made them), as a bulk load does; then `vacuum analyze`.
 */
async function generate(sql: (text: string) => Promise<Row[]>): Promise<Generation> {
  const started = performance.now()
  await sql("set maintenance_work_mem = '512MB'")
  const indexes = await sql(`select indexname, indexdef from pg_indexes
    where tablename = 'sessionward_session'
      and indexname not in (select conname from pg_constraint where conrelid = 'sessionward_session'::regclass)`)
  const constraints = await sql(`select conname, pg_get_constraintdef(oid) as def from pg_constraint
    where conrelid = 'sessionward_session'::regclass`)
  for (const { indexname } of indexes) await sql(`drop index "${indexname}"`)
  for (const { conname } of constraints) {
    await sql(`alter table sessionward_session drop constraint "${conname}"`)
  }
  say('loading live sessions')
  await sql(`insert into sessionward_session
      (id, user_id, token_hash, created_at, last_activity_at, expires_at, ip, last_ip, user_agent, expire_after)
    select gen_random_uuid(), 'user-' || n,
           encode(sha256(convert_to('swt_' || lpad(n::text, 43, '0'), 'UTF8')), 'hex'),
           now() - (n % 7200) * interval '1 second', now() - (n % 600) * interval '1 second',
           now() - (n % 7200) * interval '1 second' + interval '12 hours',
           '203.0.113.' || (n % 250), '203.0.113.' || (n % 250), '${USER_AGENT}', ${EXPIRE_AFTER}
      from generate_series(1, ${USERS}) as n`)
  const reasons = "array['logout','idle','absolute','revoked','evicted','admin']"
  for (let round = 0; round < ENDED_PER_USER; round++) {
    say(`loading ended sessions ${round + 1}/${ENDED_PER_USER}`)
    await sql(`insert into sessionward_session
        (id, user_id, token_hash, created_at, last_activity_at, expires_at, ended_at, end_reason, ip, last_ip, user_agent, expire_after)
      select gen_random_uuid(), 'user-' || n, md5(n::text || '/' || ${round}) || md5(${round} || '/' || n::text),
             at, at + interval '10 minutes', at + interval '12 hours', at + interval '25 minutes',
             (${reasons})[1 + (n + ${round}) % 6],
             '198.51.100.' || (n % 250), '198.51.100.' || (n % 250), '${USER_AGENT}', ${EXPIRE_AFTER}
        from generate_series(1, ${USERS}) as n,
             lateral (select now() - interval '1 day' - (${round} * 2 * 86400 + n % 86400) * interval '1 second' as at) as t`)
  }
  for (const { conname, def } of constraints) {
    say(`building ${conname}`)
    await sql(`alter table sessionward_session add constraint "${conname}" ${def}`)
  }
  for (const { indexname, indexdef } of indexes) {
    say(`building ${indexname}`)
    await sql(String(indexdef))
  }
  // As autovacuum leaves a table in steady state: statistics, and the visibility map that
  // lets index-only scans skip the heap.
  await sql('vacuum analyze sessionward_session')
  const seconds = (performance.now() - started) / 1000
  say(`generated in ${seconds.toFixed(0)} s`)
  return { seconds, load: load() }
}

interface Results {
  timings: Timing[]
  login: Timing & { perSecond: number }
  sweep: { ended: number; seconds: number; load: string }
}

async function measure(
  ward: Awaited<ReturnType<typeof createWard>>,
  sql: (text: string) => Promise<Row[]>,
): Promise<Results> {
  const app = new Hono<WardEnv>()
  app.use('*', ward.middleware())
  app.get('/me', ward.requireSession(), (c) => c.json({ user: c.var.session?.userId }))
  app.post('/login/:user', async (c) => c.json(await ward.createSession(c, c.req.param('user'))))
  app.route('/session', ward.routes())
  app.route('/admin/sessions', ward.adminRoutes({ authorize: () => true }))
  const request = async (path: string, token: string, init: RequestInit = {}) => {
    const response = await app.request(path, {
      ...init,
      headers: { 'user-agent': USER_AGENT, authorization: `Bearer ${token}`, ...init.headers },
    })
    await response.text()
    if (response.status !== 200) throw new Error(`${path}: ${response.status}`)
  }
  // Users spread over the whole table, each token used once for the misses.
  const user = (i: number) => 1 + ((i * 7919) % USERS)
  const timings: Timing[] = []
  timings.push(
    await timed(
      'cache-miss authenticate (`GET /me`, a token this instance never saw)',
      SAMPLES,
      1,
      (i) => request('/me', tokenOf(user(i))),
    ),
  )
  const pingBody = {
    method: 'POST',
    body: '{"idleFor":0}',
    headers: { 'content-type': 'application/json' },
  }
  timings.push(
    await timed('`POST /session/ping` (a cached session)', SAMPLES, 1, (i) =>
      request('/session/ping', tokenOf(user(i % 200)), pingBody),
    ),
  )
  timings.push(
    await timed('devices list, first page (`GET /session/sessions`)', SAMPLES / 4, 1, (i) =>
      request('/session/sessions', tokenOf(user(i % 200))),
    ),
  )
  const admin = tokenOf(user(0))
  for (const [label, path] of [
    ['admin first page (`GET /admin/sessions`, JSON, 50 rows)', '/admin/sessions'],
    ['admin filter `?user=user-4242`', '/admin/sessions?user=user-4242'],
    ['admin filter `?live=true`', '/admin/sessions?live=true'],
    ['admin filter `?reason=idle&live=false`', '/admin/sessions?reason=idle&live=false'],
  ] as const) {
    timings.push(
      await timed(label, 100, 1, () =>
        request(path, admin, { headers: { accept: 'application/json' } }),
      ),
    )
  }
  // A server that has run a while holds its pool's connections open and each has planned the
  // sign-in: open and warm them first, on users outside the measured ones (measured: opening ten
  // connections at once costs the first 16 logins 21–48 ms each, a run's p99 on its own).
  await timed('warm-up logins (not reported)', WARM_UP, CONCURRENCY, async (i) => {
    const response = await app.request(`/login/warm-up-${i % CONCURRENCY}`, {
      method: 'POST',
      headers: { 'user-agent': USER_AGENT },
    })
    if (response.status !== 200) throw new Error(`warm-up login: ${response.status}`)
  })
  const login = await timed(
    `login with \`maxSessions: 3\`, ${CONCURRENCY} at a time (\`createSession\`)`,
    SAMPLES,
    CONCURRENCY,
    async (i) => {
      // Users with 1 to 3 live sessions: a third of these logins evict.
      const response = await app.request(`/login/user-${1 + (i % (SAMPLES / 3))}`, {
        method: 'POST',
        headers: { 'user-agent': USER_AGENT },
      })
      await response.text()
      if (response.status !== 200) throw new Error(`login: ${response.status}`)
    },
  )
  // A backlog for the sweep: sessions idle past their limit (one every USERS / N users, none
  // of those that just signed in: this instance's cache knows them active and spares them).
  await sql(`update sessionward_session set last_activity_at = now() - interval '9 hours'
    where ended_at is null and user_id in (
      select 'user-' || n from generate_series(${SAMPLES}, ${USERS}, ${Math.round(USERS / EXPIRED_FOR_SWEEP)}) as n)`)
  const sweepLoad = load()
  const started = performance.now()
  const ended = await ward.sweep()
  const seconds = (performance.now() - started) / 1000
  say(`sweep: ${ended} rows in ${seconds.toFixed(1)} s`)
  return { timings, login, sweep: { ended, seconds, load: sweepLoad } }
}

// How to read the table next to the plans: the same in every run.
const READING =
  'The plans below give each statement its own execution time at this size (`Execution Time`): compare them with the end-to-end figures above, which add round trips, the pool, the route and whatever else the machine runs at that load average.'

function render(generation: Generation, results: Results, plans: string[], size: Row): string {
  const { timings, login, sweep } = results
  const row = (t: Timing) =>
    `| ${t.label} | ${t.count} | ${t.p50.toFixed(2)} | ${t.p99.toFixed(2)} | ${t.load} |`
  const miss = timings[0]
  const firstPage = timings.find((t) => t.label.startsWith('admin first page'))
  const rate = sweep.ended / sweep.seconds
  const verdict = (met: boolean) => (met ? 'met' : '**NOT met**')
  return [
    `## A million users (\`npm run bench:million\`${SCALE === 1 ? '' : `, MILLION_SCALE=${SCALE}`})`,
    '',
    `${USERS.toLocaleString('en')} live sessions (one per user) and ${(USERS * ENDED_PER_USER).toLocaleString('en')} ended ones on PostgreSQL (${String(size.total)} with indexes, heap ${String(size.heap)}), generated by \`generate_series\` in ${generation.seconds.toFixed(0)} s (load average ${generation.load} after). One ward in process (\`app.request\`), \`maxSessions: 3\`, \`logLimit\` 20, pool of 10 connections (opened and warmed before the login row by ${WARM_UP} unmeasured logins of other users, as a server that has run a while has them); the machine's 2 cores are shared with other work, so each row gives the 1-minute load average when it ended.`,
    '',
    '| request | n | p50 ms | p99 ms | load |',
    '|---|---:|---:|---:|---:|',
    ...[...timings, login].map(row),
    `| sweep: one round over ${EXPIRED_FOR_SWEEP.toLocaleString('en')} idle sessions | ${sweep.ended} | ${Math.round(rate).toLocaleString('en')} rows/s | (${sweep.seconds.toFixed(1)} s) | ${sweep.load} |`,
    '',
    `- Cache miss p99 ${miss?.p99.toFixed(2)} ms (target ≤ ${TARGETS.miss}): ${verdict((miss?.p99 ?? Infinity) <= TARGETS.miss)}.`,
    `- Login p99 ${login.p99.toFixed(2)} ms, ${Math.round(login.perSecond)} logins/s (target p99 ≤ ${TARGETS.login}): ${verdict(login.p99 <= TARGETS.login)}.`,
    `- Admin first page p50 ${firstPage?.p50.toFixed(2)} ms, p99 ${firstPage?.p99.toFixed(2)} ms (target ≤ ${TARGETS.admin}): ${verdict((firstPage?.p99 ?? Infinity) <= TARGETS.admin)}.`,
    `- Sweep ${Math.round(rate).toLocaleString('en')} rows/s (target ≥ ${TARGETS.sweep.toLocaleString('en')}): ${verdict(rate >= TARGETS.sweep)}.`,
    '',
    READING,
    '',
    '### Plans (`explain (analyze, buffers)` of the statements the ward sent, as sent)',
    '',
    ...plans,
  ].join('\n')
}

async function dropDatabase(base: string, name: string): Promise<void> {
  const server = await MikroORM.init({
    driver: PostgreSqlDriver,
    clientUrl: base,
    entities: [SessionEntity],
  })
  try {
    await (server.em.fork() as EntityManager).execute(
      `drop database if exists "${name}" with (force)`,
    )
    say(`dropped ${name}`)
  } finally {
    await server.close(true)
  }
}

await main()
