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

/**
 * Creates (or re-creates, empty) a PostgreSQL database next to the one `baseUrl` names and
 * returns its URL. Tests and benchmarks each get their own, so they never share rows.
 *
 * @example
 * const url = await freshDatabase(process.env.DATABASE_URL, 'sessionward_bench')
 */
export async function freshDatabase(baseUrl: string, name: string): Promise<string> {
  const admin = await MikroORM.init({
    driver: PostgreSqlDriver,
    clientUrl: baseUrl,
    entities: [SessionEntity],
  })
  try {
    const em = admin.em.fork() as EntityManager
    await em.execute(`drop database if exists "${name}" with (force)`)
    await em.execute(`create database "${name}"`)
  } finally {
    await admin.close(true)
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
