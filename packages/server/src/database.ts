import { resolve } from 'node:path'
import { MikroORM } from '@mikro-orm/core'
import { SessionEntity } from './entity.ts'
import { WardOptionsError } from './errors.ts'
import { releaseDeadClients } from './pool-guard.ts'
import { type ListenConnection, Store } from './store.ts'

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
 * Applies the library's pending schema migrations. Idempotent: a second call applies nothing.
 * Works on a shared ORM too, using the library's own migration table and list. Safe to call
 * from several instances at once: each waits for a database lock, so each migration runs once.
 *
 * @example
 * const applied = await migrate(orm) // ['Migration20261123000000_initial']
 */
export function migrate(orm: MikroORM): Promise<string[]> {
  const queued = (migrations.get(orm) ?? Promise.resolve()).catch(() => undefined)
  const run = queued.then(() => new Store(orm).migrate())
  migrations.set(orm, run)
  return run
}

// Calls on one ORM (whichever ward or caller makes them) also queue in process: kysely's
// PGlite driver deadlocks on concurrent transactions.
const migrations = new WeakMap<MikroORM, Promise<string[]>>()

/** A `pg` client as the PostgreSQL bus uses it (pg's own types are not a dependency). */
export interface BusClient extends ListenConnection {
  connect(): Promise<void>
  end(): Promise<void>
  on(event: 'notification', listener: (message: { payload?: string }) => void): unknown
  on(event: 'error', listener: (error: Error) => void): unknown
  on(event: 'end', listener: () => void): unknown
}

/** What a `pg` pool exposes of itself: its client class and the options it connects with. */
interface PoolLike {
  Client: new (options: object) => BusClient
  options: object
}

// How the bus's connection shows in pg_stat_activity.
export const BUS_APPLICATION_NAME = 'sessionward bus'

/**
 * Makes connections to the database the ORM's pool connects to, with the pool's settings, but
 * outside it: a listening connection is held for good and must not take a pool slot, nor be
 * handed to a transaction. Only an ORM on PostgreSQL's `pg` driver has one.
 *
 * @example
 * const connect = await busConnector(orm)
 * const client = connect()
 */
export async function busConnector(orm: MikroORM): Promise<() => BusClient> {
  const connection = orm.driver.getConnection() as { getNativeClient?: () => Promise<unknown> }
  const pool = (await connection.getNativeClient?.()) as Partial<PoolLike> | undefined
  const { Client, options } = pool ?? {}
  if (typeof Client !== 'function' || typeof options !== 'object' || options === null) {
    throw new WardOptionsError(
      `bus: 'postgres' needs the database on PostgreSQL through @mikro-orm/postgresql (its pg pool); this ORM's driver is ${orm.driver.constructor.name}`,
    )
  }
  return () => new Client({ ...options, application_name: BUS_APPLICATION_NAME, keepAlive: true })
}
