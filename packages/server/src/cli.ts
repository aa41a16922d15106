#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { MikroORM } from '@mikro-orm/core'
import { explainDriverImport, migrate, openDatabase, postgresAddress } from './database.ts'
import { SessionEntity } from './entity.ts'
import { migrationsList } from './migrations/index.ts'
import { Store } from './store.ts'

const USAGE = `Usage: sessionward migrate [--database URL] [--sql]

Applies sessionward's pending schema migrations to a PostgreSQL database. Safe while app
instances run ward.migrate() at the same time: all of them take the same database lock.

Options:
  --database URL  the postgres:// URL to migrate (default: $DATABASE_URL)
  --sql           print the SQL instead of applying it, as one psql script that also records
                  each migration, so ward.migrate() afterwards finds the schema current.
                  With a database: only its pending migrations (nothing is written to it).
                  Without one: the whole schema, for an empty database.
  -h, --help      print this help

Exit codes: 0 done, 1 the database failed, 2 bad usage.
Embedded PGlite needs no command: createWard() migrates it.
`

/** A mistake on the command line: its message, a pointer to --help, and exit code 2. */
class UsageError extends Error {}

function parse(argv: string[]) {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        database: { type: 'string' },
        sql: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: true,
      strict: true,
    })
    return { ...values, positionals }
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}

async function run(argv: string[]): Promise<number> {
  const args = parse(argv)
  if (args.help) {
    process.stdout.write(USAGE)
    return 0
  }
  const [command, ...extra] = args.positionals
  if (command !== 'migrate' || extra.length > 0) {
    throw new UsageError(command ? `unknown command: ${args.positionals.join(' ')}` : 'no command')
  }
  const url = args.database ?? process.env.DATABASE_URL
  if (url !== undefined && !/^postgres(ql)?:\/\//i.test(url)) {
    throw new UsageError(
      'the database must be a postgres:// URL (embedded PGlite is migrated by createWard itself)',
    )
  }
  if (url === undefined) {
    if (!args.sql) {
      throw new UsageError(
        'no database: pass --database postgres://… or set DATABASE_URL (an in-memory store has nothing to migrate; embedded PGlite is migrated by createWard itself)',
      )
    }
    // Never connected: the ORM is only the context the migrations are built in.
    const { PostgreSqlDriver } = await import('@mikro-orm/postgresql').catch((error) =>
      explainDriverImport(error, 'PostgreSQL'),
    )
    const offline = new MikroORM({
      driver: PostgreSqlDriver,
      dbName: 'sessionward',
      entities: [SessionEntity],
    })
    process.stdout.write(
      await new Store(offline).migrationScript(migrationsList.map(({ name }) => name)),
    )
    return 0
  }
  const { orm } = await openDatabase(url)
  try {
    const where = postgresAddress(url)
    if (args.sql) {
      const store = new Store(orm)
      const pending = await store.pendingMigrations()
      process.stdout.write(
        pending.length > 0
          ? await store.migrationScript(pending)
          : `-- sessionward: the schema of ${where} is current; nothing to apply\n`,
      )
      return 0
    }
    const applied = await migrate(orm)
    process.stdout.write(
      applied.length > 0
        ? `Applied ${applied.length} migration${applied.length === 1 ? '' : 's'} to ${where}:\n${applied.map((name) => `  ${name}\n`).join('')}`
        : `The schema of ${where} is current; nothing to apply.\n`,
    )
    return 0
  } finally {
    await orm.close(true)
  }
}

try {
  process.exitCode = await run(process.argv.slice(2))
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(`sessionward: ${error.message}\nRun \`sessionward --help\` for usage.\n`)
    process.exitCode = 2
  } else {
    process.stderr.write(`sessionward: migrate failed: ${(error as Error).message}\n`)
    process.exitCode = 1
  }
}
