import { MikroORM } from '@mikro-orm/core'
import { Migrator } from '@mikro-orm/migrations'
import type { EntityManager } from '@mikro-orm/sql'
import { SessionEntity } from './entity.ts'
import { migrationsList } from './migrations/index.ts'
import { WardOptionsError } from './options.ts'

/** What `createWard({ database })` accepts: nothing, a PGlite directory, a postgres:// URL or an ORM. */
export type DatabaseOption = string | MikroORM | undefined

/** The ORM a ward works with, and whether the ward must close it. */
export interface Database {
  orm: MikroORM
  /** Embedded PGlite or a URL: the ward opened it, so `ward.close()` closes it. */
  owned: boolean
  /** An embedded PGlite the ward opened: nothing else can reach it, to migrate it for one. */
  embedded: boolean
}

// The library keeps its own migration history so it never mixes with the host app's.
const MIGRATIONS = {
  tableName: 'sessionward_migrations',
  migrationsList,
  snapshot: false,
  transactional: true,
  allOrNothing: true,
  emit: 'ts' as const,
  silent: true,
}

const POSTGRES_URL = /^postgres(ql)?:\/\//

const BASE_OPTIONS = {
  entities: [SessionEntity],
  discovery: { warnWhenNoEntities: false },
  debug: false,
  allowGlobalContext: false,
}

/**
 * Opens (or adopts) the database named by the `database` option.
 *
 * @example
 * const { orm } = await openDatabase(process.env.DATABASE_URL)
 */
export async function openDatabase(database: DatabaseOption): Promise<Database> {
  if (database instanceof MikroORM || isOrmLike(database)) {
    const known = [...database.getMetadata()].some(
      (meta) => meta.tableName === SessionEntity.meta.tableName,
    )
    if (!known) {
      throw new WardOptionsError(
        'database: the MikroORM instance does not know the session entity; add `SessionEntity` from @sessionward/server to its `entities`',
      )
    }
    return { orm: database, owned: false, embedded: false }
  }
  if (database !== undefined && (typeof database !== 'string' || database.trim() === '')) {
    throw new WardOptionsError(
      'database must be omitted (PGlite in memory), a directory path, a postgres:// URL or a MikroORM instance',
    )
  }
  if (database !== undefined && POSTGRES_URL.test(database)) {
    const { PostgreSqlDriver } = await import('@mikro-orm/postgresql')
    const orm = await MikroORM.init({
      ...BASE_OPTIONS,
      driver: PostgreSqlDriver,
      clientUrl: database,
    })
    return { orm, owned: true, embedded: false }
  }
  const { PgliteDriver } = await import('@mikro-orm/pglite')
  // PGlite's in-memory cluster is named 'memory://'; anything else is a directory on disk.
  const orm = await MikroORM.init({
    ...BASE_OPTIONS,
    driver: PgliteDriver,
    dbName: database ?? 'memory://',
  })
  return { orm, owned: true, embedded: true }
}

function isOrmLike(value: unknown): value is MikroORM {
  return (
    typeof value === 'object' &&
    value !== null &&
    'em' in value &&
    'getMetadata' in value &&
    typeof (value as { getMetadata: unknown }).getMetadata === 'function'
  )
}

/**
 * Applies the library's pending schema migrations. Idempotent: a second call applies nothing.
 * Works on a shared ORM too, using the library's own migration table and list.
 *
 * @example
 * const applied = await migrate(orm) // ['Migration20261123000000_initial']
 */
export async function migrate(orm: MikroORM): Promise<string[]> {
  const hostMigrations = orm.config.get('migrations')
  // Migrator reads its options once, when built: lend it ours, then give the host its own back.
  orm.config.set('migrations', { ...hostMigrations, ...MIGRATIONS })
  let migrator: Migrator
  try {
    migrator = new Migrator(orm.em.fork() as EntityManager)
  } finally {
    orm.config.set('migrations', hostMigrations)
  }
  const applied = await migrator.up()
  return applied.map((migration) => migration.name)
}
