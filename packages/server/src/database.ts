import { resolve } from 'node:path'
import { MikroORM, type Transaction } from '@mikro-orm/core'
import { Migrator } from '@mikro-orm/migrations'
import type { AbstractSqlDriver, EntityManager } from '@mikro-orm/sql'
import { SessionEntity } from './entity.ts'
import { WardOptionsError } from './errors.ts'
import { migrationsList } from './migrations/index.ts'
import { releaseDeadClients } from './pool-guard.ts'

/** What `createWard({ database })` accepts: nothing, a PGlite directory, a postgres:// URL or an ORM. */
export type DatabaseOption = string | MikroORM | undefined

/** The ORM a ward works with, and whether the ward must close it. */
export interface Database {
  orm: MikroORM
  /** Embedded PGlite or a URL: the ward opened it, so `ward.close()` closes it. */
  owned: boolean
  /** An embedded PGlite the ward opened: nothing else can reach it, to migrate it for one. */
  embedded: boolean
  /** The start-up log line that says which store this is (never a user name or password). */
  description: string
}

/** Where the `database` option points, once validated. */
export type StoreTarget =
  | { kind: 'memory' }
  | { kind: 'directory'; path: string }
  | { kind: 'postgres'; url: string }
  | { kind: 'orm'; orm: MikroORM }

// The library keeps its own migration history so it never mixes with the host app's.
const MIGRATIONS_TABLE = 'sessionward_migrations'
const MIGRATIONS = {
  tableName: MIGRATIONS_TABLE,
  migrationsList,
  snapshot: false,
  transactional: true,
  allOrNothing: true,
  emit: 'ts' as const,
  silent: true,
}

// One key for every migrate() in any process; a transaction lock is released at commit or rollback.
const MIGRATION_LOCK = `select pg_advisory_xact_lock(hashtext('${MIGRATIONS_TABLE}'))`

// The history table exactly as MikroORM's Migrator creates it (a test compares the two).
const MIGRATIONS_TABLE_DDL = `create table if not exists "${MIGRATIONS_TABLE}" ("id" serial primary key, "name" varchar(255) not null, "executed_at" timestamptz(6) not null default current_timestamp(6))`

const POSTGRES_URL = /^postgres(ql)?:\/\//i
const URL_SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i

const BASE_OPTIONS = {
  entities: [SessionEntity],
  discovery: { warnWhenNoEntities: false },
  debug: false,
  allowGlobalContext: false,
}

/**
 * Validates the `database` option and says where it points. `memory://` and `file://` are
 * PGlite's own names for its in-memory and on-disk stores; any other `scheme://` is refused.
 *
 * @example
 * storeTarget('postgres://app@db:5432/app') // { kind: 'postgres', url: 'postgres://app@db:5432/app' }
 */
export function storeTarget(database: DatabaseOption): StoreTarget {
  if (database instanceof MikroORM || isOrmLike(database)) return { kind: 'orm', orm: database }
  if (database === undefined) return { kind: 'memory' }
  if (typeof database !== 'string' || database.trim() === '') {
    throw new WardOptionsError(
      'database must be omitted (PGlite in memory), a directory path, a postgres:// URL or a MikroORM instance',
    )
  }
  if (POSTGRES_URL.test(database)) return { kind: 'postgres', url: database }
  const scheme = URL_SCHEME.exec(database)?.[1]?.toLowerCase()
  if (scheme === 'memory') return { kind: 'memory' }
  if (scheme === 'file') return { kind: 'directory', path: database.slice('file://'.length) }
  if (scheme !== undefined) {
    throw new WardOptionsError(
      `database: the "${scheme}://" scheme is not supported; use a postgres:// URL, a directory path for embedded PGlite, or omit it for PGlite in memory`,
    )
  }
  return { kind: 'directory', path: database }
}

/**
 * The start-up log line naming the store. A URL shows only host, port and database: its user
 * name, password and query (which may hold a password) never reach the log.
 *
 * @example
 * describeStore({ kind: 'postgres', url: 'postgres://app:secret@db/app' })
 * // 'sessionward: store: PostgreSQL at db:5432/app'
 */
export function describeStore(target: StoreTarget): string {
  switch (target.kind) {
    case 'memory':
      return 'sessionward: store: embedded PGlite in memory; sessions are lost on restart (set `database` to a directory path or a postgres:// URL to keep them)'
    case 'directory':
      return `sessionward: store: embedded PGlite at ${resolve(target.path)}`
    case 'postgres':
      return `sessionward: store: PostgreSQL at ${postgresAddress(target.url)}`
    case 'orm':
      return `sessionward: store: the app's MikroORM instance (${target.orm.driver.constructor.name}); apply the schema with ward.migrate() or npx sessionward migrate`
  }
}

/** `host:port/database` of a postgres:// URL, without its credentials. */
export function postgresAddress(url: string): string {
  const parsed = new URL(url)
  const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost'
  const database = decodeURIComponent(parsed.pathname.slice(1)) || '(default database)'
  return `${host}:${parsed.port || '5432'}/${database}`
}

const DRIVER_PACKAGES = {
  PGlite: {
    packages: ['@mikro-orm/pglite', '@electric-sql/pglite'],
    message:
      'embedded PGlite (no `database`, or a directory path) needs its optional packages: run `npm install @electric-sql/pglite @mikro-orm/pglite`, or pass a postgres:// URL as `database`',
  },
  PostgreSQL: {
    packages: ['@mikro-orm/postgresql'],
    message:
      'a postgres:// URL needs the PostgreSQL driver: run `npm install @mikro-orm/postgresql`',
  },
}

/**
 * Turns a failed import of a store's driver into a `WardOptionsError` that says what to
 * install; any other failure (a broken install, a bug) is rethrown as it is.
 *
 * @example
 * await import('@mikro-orm/pglite').catch((error) => explainDriverImport(error, 'PGlite'))
 */
export function explainDriverImport(error: unknown, driver: keyof typeof DRIVER_PACKAGES): never {
  const { packages, message } = DRIVER_PACKAGES[driver]
  const code = (error as { code?: unknown } | null)?.code
  const text = error instanceof Error ? error.message : ''
  const missing =
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') &&
    packages.some((name) => text.includes(name))
  if (!missing) throw error
  const explained = new WardOptionsError(message)
  explained.cause = error
  throw explained
}

/**
 * Opens (or adopts) the database named by the `database` option. With `storeTimeout`
 * (seconds), a PostgreSQL pool it opens has PostgreSQL cancel any statement that outlasts it
 * (`statement_timeout`) and gives up connecting after it.
 *
 * @example
 * const { orm } = await openDatabase(process.env.DATABASE_URL, 5)
 */
export async function openDatabase(
  database: DatabaseOption,
  storeTimeout?: number,
): Promise<Database> {
  const target = storeTarget(database)
  const description = describeStore(target)
  if (target.kind === 'orm') {
    const known = [...target.orm.getMetadata()].some(
      (meta) => meta.tableName === SessionEntity.meta.tableName,
    )
    if (!known) {
      throw new WardOptionsError(
        'database: the MikroORM instance does not know the session entity; add `SessionEntity` from @sessionward/server to its `entities`',
      )
    }
    return { orm: target.orm, owned: false, embedded: false, description }
  }
  if (target.kind === 'postgres') {
    const { PostgreSqlDriver } = await import('@mikro-orm/postgresql').catch((error) =>
      explainDriverImport(error, 'PostgreSQL'),
    )
    const bound = storeTimeout === undefined ? undefined : Math.ceil(storeTimeout * 1000)
    const orm = await MikroORM.init({
      ...BASE_OPTIONS,
      driver: PostgreSqlDriver,
      clientUrl: target.url,
      // pg's pool options: the server ends a statement past the bound, so a call the ward gave
      // up on does not keep its connection busy; migrations lift it (see migrateUnderLock).
      driverOptions: {
        // A dead connection must never keep its pool slot (see releaseDeadClients).
        onPoolCreated: releaseDeadClients,
        ...(bound === undefined
          ? {}
          : { statement_timeout: bound, connectionTimeoutMillis: bound }),
      },
    })
    return { orm, owned: true, embedded: false, description }
  }
  const { PgliteDriver } = await import('@mikro-orm/pglite').catch((error) =>
    explainDriverImport(error, 'PGlite'),
  )
  // PGlite's in-memory cluster is named 'memory://'; anything else is a directory on disk.
  const orm = await MikroORM.init({
    ...BASE_OPTIONS,
    driver: PgliteDriver,
    dbName: target.kind === 'memory' ? 'memory://' : target.path,
  })
  return { orm, owned: true, embedded: true, description }
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
 * The library's Migrator, working inside one transaction. The Migrator creates and reads its
 * history table while it initialises, before `up()` opens a transaction, and rebuilds that
 * storage when it has checked the database before: each storage it builds gets the transaction.
 */
class TransactionMigrator extends Migrator {
  transaction: Transaction | undefined

  protected override initServices(): void {
    super.initServices()
    if (this.transaction) this.storage.setMasterMigration(this.transaction)
  }
}

function migratorFor(orm: MikroORM, transaction: Transaction): TransactionMigrator {
  const hostMigrations = orm.config.get('migrations')
  // Migrator reads its options once, when built: lend it ours, then give the host its own back.
  orm.config.set('migrations', { ...hostMigrations, ...MIGRATIONS })
  try {
    const migrator = new TransactionMigrator(orm.em.fork() as EntityManager)
    migrator.transaction = transaction
    migrator.getStorage().setMasterMigration(transaction)
    return migrator
  } finally {
    orm.config.set('migrations', hostMigrations)
  }
}

/**
 * Applies the library's pending schema migrations. Idempotent: a second call applies nothing.
 * Works on a shared ORM too, using the library's own migration table and list. Safe to call
 * from several instances at once: each waits for a database lock, so each migration runs once.
 *
 * @example
 * const applied = await migrate(orm) // ['Migration20261123000000_initial']
 */
export function migrate(orm: MikroORM): Promise<string[]> {
  const queued = (migrations.get(orm) ?? Promise.resolve()).catch(() => undefined)
  const run = queued.then(() => migrateUnderLock(orm))
  migrations.set(orm, run)
  return run
}

// Calls on one ORM also queue in process: kysely's PGlite driver deadlocks on concurrent transactions.
const migrations = new WeakMap<MikroORM, Promise<string[]>>()

async function migrateUnderLock(orm: MikroORM): Promise<string[]> {
  const connection = (orm.em.fork() as EntityManager).getConnection()
  return connection.transactional(async (trx) => {
    // Migrations may wait for another instance's and rebuild indexes: no storeTimeout here.
    await connection.execute('set local statement_timeout = 0', [], 'run', trx)
    await connection.execute(MIGRATION_LOCK, [], 'run', trx)
    const applied = await migratorFor(orm, trx).up({ transaction: trx })
    return applied.map((migration) => migration.name)
  })
}

/**
 * The migrations the database has not recorded yet, read without writing anything (so not
 * through the Migrator, which creates its table on first use).
 *
 * @example
 * await pendingMigrations(orm) // [] when the schema is current
 */
export async function pendingMigrations(orm: MikroORM): Promise<string[]> {
  const em = orm.em.fork() as EntityManager
  const [table] = await em.execute<{ exists: boolean }[]>(
    `select to_regclass('"${MIGRATIONS_TABLE}"') is not null as exists`,
  )
  const executed = table?.exists
    ? (await em.execute<{ name: string }[]>(`select name from "${MIGRATIONS_TABLE}"`)).map(
        (row) => row.name,
      )
    : []
  return migrationsList.map(({ name }) => name).filter((name) => !executed.includes(name))
}

/**
 * The SQL `migrate()` runs for the named migrations, as one psql script in one transaction:
 * the same lock, the history table as the Migrator creates it, and each migration recorded
 * the way the Migrator records it, so `migrate()` afterwards finds them applied.
 *
 * @example
 * process.stdout.write(await migrationScript(orm, await pendingMigrations(orm)))
 */
export async function migrationScript(orm: MikroORM, names: string[]): Promise<string> {
  const lines = [
    '-- sessionward schema migrations. Apply with: psql -v ON_ERROR_STOP=1 -f <this file>',
    'begin;',
    '-- The lock ward.migrate() and `npx sessionward migrate` take, so they wait for this script.',
    `${MIGRATION_LOCK};`,
    `${MIGRATIONS_TABLE_DDL};`,
  ]
  for (const { name, class: MigrationClass } of migrationsList.filter((m) =>
    names.includes(m.name),
  )) {
    const migration = new MigrationClass(orm.driver as AbstractSqlDriver, orm.config)
    await migration.up()
    lines.push('', `-- ${name}`)
    for (const query of migration.getQueries()) {
      if (typeof query !== 'string') throw new Error(`${name}: a query that is not SQL text`)
      lines.push(`${query};`)
    }
    lines.push(`insert into "${MIGRATIONS_TABLE}" ("name") values ('${name}');`)
  }
  lines.push('', 'commit;', '')
  return lines.join('\n')
}
