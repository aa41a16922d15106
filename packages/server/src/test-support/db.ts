import { MikroORM } from '@mikro-orm/core'
import { PgliteDriver } from '@mikro-orm/pglite'
import { PostgreSqlDriver } from '@mikro-orm/postgresql'
import type { EntityManager } from '@mikro-orm/sql'
import { beforeEach, describe } from 'vitest'
import { migrate } from '../database.ts'
import { SessionEntity } from '../entity.ts'
import { postgresSkipReason, workerDatabase } from './postgres.ts'

export { postgresSkipReason }

/** A database the server suite runs on, shared by every test of one worker. */
export interface TestDatabase {
  name: 'PGlite' | 'PostgreSQL'
  orm: MikroORM
  /** Every SQL statement sent since the last `reset()`. */
  queries: string[]
  /** The connection string of this worker's PostgreSQL database (PostgreSQL only). */
  url?: string
  /** Empties the session, device and report tables and the query log. */
  reset(): Promise<void>
  /** Runs raw SQL (to read rows as they are stored). */
  sql<T = Record<string, unknown>>(query: string, params?: unknown[]): Promise<T[]>
}

/** How many activity writes (`update … set last_activity_at`) the query log holds. */
export function activityWrites(db: TestDatabase): number {
  return db.queries.filter((q) => /update sessionward_session\s+set last_activity_at/.test(q))
    .length
}

/** Runs `body` while the database refuses activity writes (a trigger raises), as when it fails. */
export async function refuseActivityWrites(
  db: TestDatabase,
  body: () => Promise<void>,
): Promise<void> {
  await db.sql(`create or replace function sessionward_test_refuse() returns trigger
    language plpgsql as $$ begin raise exception 'activity write refused'; end $$`)
  await db.sql(`create trigger sessionward_test_refuse before update of last_activity_at
    on sessionward_session for each row execute function sessionward_test_refuse()`)
  try {
    await body()
  } finally {
    await db.sql('drop trigger sessionward_test_refuse on sessionward_session')
    await db.sql('drop function sessionward_test_refuse')
  }
}

const opened = new Map<string, Promise<TestDatabase>>()

// The host-app way of sharing an ORM: its own MikroORM with the library's entity registered.
async function open(name: TestDatabase['name']): Promise<TestDatabase> {
  const queries: string[] = []
  const common = {
    entities: [SessionEntity],
    debug: ['query' as const],
    colors: false,
    logger: (message: string) => {
      if (message.startsWith('[query]')) queries.push(message)
    },
  }
  let orm: MikroORM
  let url: string | undefined
  if (name === 'PGlite') {
    orm = await MikroORM.init({ ...common, driver: PgliteDriver, dbName: 'memory://' })
  } else {
    // One per test worker, so parallel workers never truncate each other's rows.
    url = await workerDatabase('w')
    orm = await MikroORM.init({ ...common, driver: PostgreSqlDriver, clientUrl: url })
  }
  await migrate(orm)
  const em = () => orm.em.fork() as EntityManager
  return {
    name,
    orm,
    queries,
    url,
    reset: async () => {
      await em().execute(
        'truncate sessionward_session, sessionward_idp_token, sessionward_device, sessionward_report',
      )
      queries.length = 0
    },
    sql: (query, params = []) => em().execute(query, params, 'all'),
  }
}

/**
 * The worker's shared database of that kind, opened on first use. PGlite boots in seconds and
 * takes about 1 GB, so one instance serves every test file of a worker.
 */
export function testDatabase(name: TestDatabase['name']): Promise<TestDatabase> {
  let database = opened.get(name)
  if (!database) {
    database = open(name)
    opened.set(name, database)
  }
  return database
}

/**
 * Runs a block of tests on PGlite and, when DATABASE_URL is set, on PostgreSQL; the skipped
 * half says why in its name. `open()` gives the worker's database with an empty session table.
 *
 * @example
 * onEachDatabase((open) => { beforeEach(async () => { db = await open() }) })
 */
export function onEachDatabase(body: (open: () => Promise<TestDatabase>) => void): void {
  const emptied = (name: TestDatabase['name']) => async () => {
    const database = await testDatabase(name)
    await database.reset()
    return database
  }
  describe('on PGlite', () => body(emptied('PGlite')))
  describe.skipIf(postgresSkipReason !== null)(
    `on PostgreSQL${postgresSkipReason ? ` (skipped: ${postgresSkipReason})` : ''}`,
    () => body(emptied('PostgreSQL')),
  )
}

/**
 * For tests the kind of store does not change (the login throttle, presets): the worker's
 * PGlite, emptied before each test of the enclosing block.
 *
 * @example
 * const database = pgliteForEachTest()
 * it('…', async () => { await createWard({ database: database().orm }) })
 */
export function pgliteForEachTest(): () => TestDatabase {
  let database: TestDatabase | undefined
  beforeEach(async () => {
    database = await testDatabase('PGlite')
    await database.reset()
  })
  return () => {
    if (!database) throw new Error('pgliteForEachTest: the database opens before each test')
    return database
  }
}
