import { spawnSync } from 'node:child_process'
import { MikroORM } from '@mikro-orm/core'
import { PostgreSqlDriver } from '@mikro-orm/postgresql'
import type { EntityManager } from '@mikro-orm/sql'
import { SessionEntity } from '../entity.ts'
import { postgresUnavailable } from './services.ts'

/**
 * Why the PostgreSQL half of the server suite is skipped (DATABASE_URL unset, or PostgreSQL not
 * answering on it), or null when it runs. Under CI a reason fails the run (test-skips.ts).
 */
export const postgresSkipReason = await postgresUnavailable(process.env.DATABASE_URL)

/** Why the tests that apply SQL with `psql` are skipped, or null when they run. */
export const psqlSkipReason =
  postgresSkipReason ??
  (spawnSync('psql', ['--version']).status === 0 ? null : 'psql is not installed')

/** SQL on a connection of its own: fixtures and checks apart from any ward's statements. */
export interface SqlConnection {
  sql: <Row = Record<string, unknown>>(text: string) => Promise<Row[]>
  close(): Promise<void>
}

/**
 * Opens a connection of its own to the PostgreSQL database at `url`; its statements are not
 * bounded by a ward's `storeTimeout`.
 *
 * @example
 * const { sql, close } = await sqlConnection(url)
 */
export async function sqlConnection(url: string): Promise<SqlConnection> {
  const orm = await MikroORM.init({
    driver: PostgreSqlDriver,
    clientUrl: url,
    entities: [SessionEntity],
  })
  return {
    sql: (text) => (orm.em.fork() as EntityManager).execute(text, [], 'all'),
    close: () => orm.close(true),
  }
}

/**
 * Creates (or re-creates, empty) a PostgreSQL database next to the one `baseUrl` names and
 * returns its URL. Tests and benchmarks each get their own, so they never share rows.
 *
 * @example
 * const url = await freshDatabase(process.env.DATABASE_URL, 'sessionward_bench')
 */
export async function freshDatabase(baseUrl: string, name: string): Promise<string> {
  const admin = await sqlConnection(baseUrl)
  try {
    await admin.sql(`drop database if exists "${name}" with (force)`)
    await admin.sql(`create database "${name}"`)
  } finally {
    await admin.close()
  }
  const url = new URL(baseUrl)
  url.pathname = `/${name}`
  return url.toString()
}

/**
 * A fresh database next to DATABASE_URL's for this test worker (`<base>_<suffix><worker>`), for
 * ward processes to share.
 *
 * @example
 * databaseUrl = await workerDatabase('many')
 */
export function workerDatabase(suffix: string): Promise<string> {
  const baseUrl = String(process.env.DATABASE_URL)
  const base = new URL(baseUrl).pathname.slice(1) || 'postgres'
  return freshDatabase(baseUrl, `${base}_${suffix}${process.env.VITEST_POOL_ID ?? '0'}`)
}

/** What a sweep finds waiting: sessions idle past their limit beside live ones. */
export interface SweepBacklog {
  /** Sessions idle an hour, past `expireAfter`, as users `user-<n>`. */
  expired: number
  /** Fresh sessions the sweep must leave alone, as users `live-<n>`. */
  live: number
  expireAfter: number
  /** Expired sessions per user (so a round trims many users' logs); one by default. */
  perUser?: number
  /** Every other expired session is past its absolute end too (ended `absolute`, not `idle`). */
  halfPastAbsoluteEnd?: boolean
}

/**
 * Writes a sweep's backlog into the `sessionward_session` table with two `generate_series`
 * inserts, then `vacuum analyze`s it.
 *
 * @example
 * await seedSweepBacklog(fixtures.sql, { expired: 100_000, live: 1000, expireAfter: 900 })
 */
export async function seedSweepBacklog(
  sql: SqlConnection['sql'],
  backlog: SweepBacklog,
): Promise<void> {
  const { expired, live, expireAfter, perUser = 1 } = backlog
  const expiresAt = backlog.halfPastAbsoluteEnd
    ? `case when g % 2 = 0 then now() - interval '1 minute' else now() + interval '10 hours' end`
    : `now() + interval '10 hours'`
  await sql(`insert into sessionward_session
      (id, user_id, token_hash, created_at, last_activity_at, expires_at, user_agent, expire_after)
    select gen_random_uuid(), 'user-' || (g % ${Math.ceil(expired / perUser)}), md5(g::text) || md5('t' || g),
           now() - interval '2 hours', now() - interval '1 hour', ${expiresAt}, 'bench', ${expireAfter}
      from generate_series(1, ${expired}) as g`)
  await sql(`insert into sessionward_session
      (id, user_id, token_hash, created_at, last_activity_at, expires_at, user_agent, expire_after)
    select gen_random_uuid(), 'live-' || g, md5('live' || g), now(), now(),
           now() + interval '10 hours', 'bench', ${expireAfter}
      from generate_series(1, ${live}) as g`)
  await sql('vacuum analyze sessionward_session')
}
