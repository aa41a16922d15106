import { MikroORM } from '@mikro-orm/core'
import { PgliteDriver } from '@mikro-orm/pglite'
import { PostgreSqlDriver } from '@mikro-orm/postgresql'
import type { EntityManager } from '@mikro-orm/sql'
import { describe, expect, it } from 'vitest'
import { migrate } from './database.ts'
import { SessionEntity } from './entity.ts'
import { migrationsList } from './migrations/index.ts'
import { freshDatabase, postgresSkipReason } from './test-support/postgres.ts'

const ALL = migrationsList.map((migration) => migration.name)

async function recorded(orm: MikroORM): Promise<string[]> {
  const rows = await (orm.em.fork() as EntityManager).execute<{ name: string }[]>(
    'select name from sessionward_migrations order by id',
  )
  return rows.map((row) => row.name)
}

describe('concurrent migrate() on one empty database', () => {
  it('PGlite: 4 calls on one ORM all succeed and apply each migration once', async () => {
    const orm = await MikroORM.init({
      driver: PgliteDriver,
      dbName: 'memory://',
      entities: [SessionEntity],
    })
    try {
      const results = await Promise.all([1, 2, 3, 4].map(() => migrate(orm)))
      expect(results.flat().sort()).toEqual(ALL)
      expect(await recorded(orm)).toEqual(ALL)
      expect(await migrate(orm)).toEqual([])
    } finally {
      await orm.close(true)
    }
  }, 120_000) // a fresh PGlite takes half a minute to boot on a loaded machine

  it.skipIf(postgresSkipReason !== null)(
    `PostgreSQL: 4 instances booting at once all succeed and apply each migration once${postgresSkipReason ? ` (skipped: ${postgresSkipReason})` : ''}`,
    async () => {
      const base = String(process.env.DATABASE_URL)
      const url = await freshDatabase(base, `${new URL(base).pathname.slice(1)}_concurrent`)
      const orms = await Promise.all(
        [1, 2, 3, 4].map(() =>
          MikroORM.init({ driver: PostgreSqlDriver, clientUrl: url, entities: [SessionEntity] }),
        ),
      )
      try {
        const results = await Promise.all(orms.map((orm) => migrate(orm)))
        expect(results.flat().sort()).toEqual(ALL)
        expect(await recorded(orms[0] as MikroORM)).toEqual(ALL)
        expect(await migrate(orms[1] as MikroORM)).toEqual([])
      } finally {
        await Promise.all(orms.map((orm) => orm.close(true)))
      }
    },
  )
})

describe('indexes a sign-in does not write (Migration20261206400000_lean_indexes)', () => {
  it.skipIf(postgresSkipReason !== null)(
    `PostgreSQL: a live, never-rotated session is in neither the retired-hash nor the ended-at index, and the reuse check and ended ranges still use them${postgresSkipReason ? ` (skipped: ${postgresSkipReason})` : ''}`,
    async () => {
      const base = String(process.env.DATABASE_URL)
      const url = await freshDatabase(base, `${new URL(base).pathname.slice(1)}_lean_indexes`)
      const orm = await MikroORM.init({
        driver: PostgreSqlDriver,
        clientUrl: url,
        entities: [SessionEntity],
      })
      try {
        await migrate(orm)
        const em = orm.em.fork() as EntityManager
        const definitions = await em.execute<{ indexname: string; indexdef: string }[]>(
          `select indexname, indexdef from pg_indexes
            where indexname in ('sessionward_session_retired_idx', 'sessionward_session_ended_at_idx')
            order by indexname`,
        )
        expect(definitions.map((row) => row.indexdef.replace(/^.* USING /, ''))).toEqual([
          'btree (ended_at) WHERE (ended_at IS NOT NULL)',
          'gin (retired_token_hashes) WHERE (retired_token_hashes IS NOT NULL)',
        ])
        // One transaction, so the setting and the plans share a connection of the pool.
        const [reuse, ended] = await em.transactional(async (tx) => {
          await tx.execute('set local enable_seqscan = off')
          const plan = async (query: string) =>
            (await tx.execute<{ 'QUERY PLAN': string }[]>(`explain ${query}`))
              .map((row) => row['QUERY PLAN'])
              .join('\n')
          return [
            await plan(
              "select id from sessionward_session where retired_token_hashes @> array['x']::text[] limit 1",
            ),
            await plan(
              'select id from sessionward_session where ended_at >= now() order by ended_at',
            ),
          ]
        })
        expect(reuse).toContain('sessionward_session_retired_idx')
        expect(ended).toContain('sessionward_session_ended_at_idx')
      } finally {
        await orm.close(true)
      }
    },
  )
})
